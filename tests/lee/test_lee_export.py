"""LEE ONNX export and the torch-free runtime (symdescent_lee.training.export, symdescent_lee.runtime).

One tiny model is trained for a few steps and exported once per session; the
tests compare every graph with torch, check cached decoding, the manifest's
integrity checks, the grammar of decoded skeletons, and that the runtime runs
with torch blocked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from symdescent.errors import DataError, PluginError  # noqa: E402
from symdescent.expr.evaluate import evaluate_tokens  # noqa: E402
from symdescent.expr.expression import Expression, validate_prefix  # noqa: E402
from symdescent.expr.fit import strip_scaling  # noqa: E402
from symdescent_lee import encoding as enc  # noqa: E402
from symdescent_lee import vocab  # noqa: E402
from symdescent_lee.runtime import LeeRuntime  # noqa: E402
from symdescent_lee.training.data import DataConfig, SyntheticGenerator, assemble  # noqa: E402
from symdescent_lee.training.export import export_model  # noqa: E402
from symdescent_lee.training.model import ModelConfig, fit_loss_and_grad, z_grad_fn  # noqa: E402
from symdescent_lee.training.train import TrainConfig, build, losses, to_tensors  # noqa: E402

TINY = ModelConfig(d_model=32, n_heads=4, n_latent=3, point_hidden=32, token_layers=1, decoder_layers=2,
                   ff=64, eval_hidden=32)
DATA = DataConfig(n_points=24, n_query=8)


def _train_tiny(steps: int = 3):
    cfg = TrainConfig(batch_size=8, lr=1e-3, warmup=1, model=TINY, data=DATA)
    torch.manual_seed(0)
    model, opt = build(cfg, "cpu")
    gen = SyntheticGenerator(DATA, seed=1)
    model.train()
    for step in range(steps):
        parts = losses(model, to_tensors(gen.batch(step, cfg.batch_size), "cpu"), cfg)
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
    return model.eval(), opt, cfg


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model, opt, cfg = _train_tiny()
    out = tmp_path_factory.mktemp("lee_export")
    export_model(model, out, metrics={"note": "test"})
    return model, out, opt, cfg


@pytest.fixture(scope="module")
def rt(tiny):
    return LeeRuntime.load(tiny[1], threads=1)


def _session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _problem(seed=0, n=60, d=3):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 3.0, size=(n, d))
    y = np.sin(X[:, 0]) * X[:, -1] + 0.5 * X[:, 0] ** 2
    return X, y


# -- torch vs onnxruntime ----------------------------------------------------------------

def test_graph_parity_with_torch(tiny):
    model, out, _, _ = tiny
    c = model.cfg
    hd = c.d_model // c.n_heads
    g = torch.Generator().manual_seed(7)
    tol = 1e-4

    def close(a, b):
        a, b = np.asarray(a), b.detach().numpy()
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= tol, np.abs(a - b).max()

    enc_s = _session(out / "encoder.onnx")
    for B, n, L in ((2, 13, 9), (5, 1, 1), (1, 40, vocab.MAX_LEN)):
        points = torch.randn(B, n, enc.POINT_FEATURES, generator=g)
        tokens = torch.randint(3, vocab.VOCAB_SIZE, (B, L), generator=g)
        tokens[0, L // 2:] = vocab.PAD
        (z,) = enc_s.run(None, {"points": points.numpy(), "tokens": tokens.numpy()})
        with torch.no_grad():
            close(z, model.encode(points, tokens))

    init_s, step_s = _session(out / "decoder_init.onnx"), _session(out / "decoder_step.onnx")
    names = [i.name for i in step_s.get_inputs()]
    for B, T, pos in ((1, 1, 0), (6, 13, 9), (2, 32, 31)):
        z = torch.randn(B, c.n_latent, c.d_model, generator=g)
        ck, cv = init_s.run(None, {"z": z.numpy()})
        with torch.no_grad():
            tk, tv = model.cross_kv(z)
        close(ck, tk)
        close(cv, tv)
        token = torch.randint(3, vocab.VOCAB_SIZE, (B,), generator=g)
        caches = [torch.randn(B, c.n_heads, T, hd, generator=g) for _ in range(2 * c.decoder_layers)]
        flat = [token, torch.tensor(pos), *tk.unbind(0), *tv.unbind(0), *caches]
        got = step_s.run(None, {k: v.numpy() for k, v in zip(names, flat)})
        nl = c.decoder_layers
        with torch.no_grad():
            want = model.decode_step(token, torch.tensor(pos), tk.unbind(0), tv.unbind(0), caches[:nl], caches[nl:])
        for a, b in zip(got, want):
            close(a, b)

    ev_s, fg_s = _session(out / "evaluate.onnx"), _session(out / "fit_grad.onnx")
    for B, q in ((1, 5), (4, 33)):
        z = torch.randn(B, c.n_latent, c.d_model, generator=g)
        x = torch.randn(B, q, enc.X_FEATURES, generator=g)
        y = torch.randn(B, q, generator=g)
        w = (torch.rand(B, q, generator=g) > 0.2).float()
        (ys,) = ev_s.run(None, {"z": z.numpy(), "x": x.numpy()})
        with torch.no_grad():
            close(ys, model.evaluate(z, x))
        loss, grad = fg_s.run(None, {"z": z.numpy(), "x": x.numpy(), "y": y.numpy(), "w": w.numpy()})
        tl, tg = z_grad_fn(model)(z, x, y, w)
        close(loss, tl)
        close(grad, tg)


def test_hand_written_fit_gradient_equals_autograd(tiny):
    """The exported fit_grad graph is a hand-written backward pass: it must give
    autograd's loss and gradient, also for a row whose points are all masked out."""
    import copy

    model = copy.deepcopy(tiny[0]).double()
    c = model.cfg
    g = torch.Generator().manual_seed(5)
    z = torch.randn(3, c.n_latent, c.d_model, generator=g, dtype=torch.float64)
    x = torch.randn(3, 17, enc.X_FEATURES, generator=g, dtype=torch.float64)
    y = torch.randn(3, 17, generator=g, dtype=torch.float64)
    w = (torch.rand(3, 17, generator=g) > 0.3).double()
    w[2] = 0.0
    with torch.no_grad():
        loss, grad = fit_loss_and_grad(model, z, x, y, w)
    want_loss, want_grad = z_grad_fn(model)(z, x, y, w)
    assert torch.allclose(loss, want_loss, rtol=1e-10, atol=1e-12)
    assert torch.allclose(grad, want_grad, rtol=1e-8, atol=1e-12)
    assert grad[:2].abs().max() > 0 and grad[2].abs().max() == 0


def test_cached_step_equals_teacher_forcing_in_torch(tiny):
    model = tiny[0]
    g = torch.Generator().manual_seed(3)
    B, t = 4, vocab.MAX_LEN
    z = torch.randn(B, model.cfg.n_latent, model.cfg.d_model, generator=g)
    inp = torch.randint(3, vocab.VOCAB_SIZE, (B, t), generator=g)
    inp[:, 0] = vocab.BOS
    with torch.no_grad():
        ref = model.decode_logits(z, inp)
        ck, cv = model.cross_kv(z)
        kc, vc = model.empty_cache(B, length=t)
        for pos in range(t):
            logits, nk, nv = model.decode_step(inp[:, pos], torch.tensor(pos), ck.unbind(0), cv.unbind(0), kc, vc)
            for i in range(model.cfg.decoder_layers):
                kc[i][:, :, pos] = nk[i]
                vc[i][:, :, pos] = nv[i]
            assert (logits - ref[:, pos]).abs().max() < 1e-5


def test_runtime_cached_decoding_equals_teacher_forcing(tiny, rt):
    """The runtime's cache handling (growth, in-place writes) through ONNX equals decode_logits."""
    model = tiny[0]
    rng = np.random.default_rng(0)
    B, t = 3, 20
    z = rng.normal(size=(B, model.cfg.n_latent, model.cfg.d_model)).astype(np.float32)
    inp = rng.integers(3, vocab.VOCAB_SIZE, size=(B, t))
    inp[:, 0] = vocab.BOS
    got = rt.decode_logits(z, inp, capacity=2)  # the cache grows 2 -> 4 -> 8 -> 16 -> 20
    assert got.shape == (B, t, vocab.VOCAB_SIZE)
    with torch.no_grad():
        ref = model.decode_logits(torch.from_numpy(z), torch.from_numpy(inp)).numpy()
    assert np.abs(got - ref).max() <= 1e-4
    np.testing.assert_allclose(rt.decode_logits(z, inp), got, atol=1e-6)  # the cache's first length does not matter
    with pytest.raises(DataError, match="rows of z"):
        rt.decode_logits(z, inp[:2])


# -- manifest and integrity ------------------------------------------------------------------

def test_manifest_contents(tiny):
    out = tiny[1]
    m = json.loads((out / "manifest.json").read_text())
    assert m["vocabulary"] == list(vocab.TOKENS)
    assert m["max_len"] == vocab.MAX_LEN
    assert m["encoding"]["POINT_FEATURES"] == enc.POINT_FEATURES
    assert m["metrics"] == {"note": "test"}
    assert m["model_config"]["d_model"] == TINY.d_model
    assert set(m["graphs"]) == {"encoder", "decoder_init", "decoder_step", "evaluate", "fit_grad"}
    assert [i["name"] for i in m["graphs"]["encoder"]["inputs"]] == ["points", "tokens"]
    for spec in m["graphs"].values():
        assert spec["file"] in m["sha256"]
    total = sum((out / f).stat().st_size for f in m["sha256"])
    assert total < 2_000_000


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_load_rejects_corrupt_missing_and_mismatched(tiny, tmp_path):
    src = tiny[1]
    d = _copy(src, tmp_path / "corrupt")
    data = bytearray((d / "decoder_step.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (d / "decoder_step.onnx").write_bytes(bytes(data))
    with pytest.raises(PluginError, match="decoder_step.onnx.*SHA-256"):
        LeeRuntime.load(d)

    d = _copy(src, tmp_path / "missing")
    (d / "fit_grad.onnx").unlink()
    with pytest.raises(PluginError, match="fit_grad.onnx.*missing"):
        LeeRuntime.load(d)

    d = _copy(src, tmp_path / "vocab")
    m = json.loads((d / "manifest.json").read_text())
    m["vocabulary"] = m["vocabulary"][:-1] + ["zeta"]
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(PluginError, match="vocabulary mismatch"):
        LeeRuntime.load(d)

    d = _copy(src, tmp_path / "unparsable")  # garbage with a matching hash: onnxruntime must refuse it
    (d / "evaluate.onnx").write_bytes(b"not an onnx model")
    m = json.loads((d / "manifest.json").read_text())
    import hashlib

    m["sha256"]["evaluate.onnx"] = hashlib.sha256(b"not an onnx model").hexdigest()
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(PluginError, match="evaluate.onnx"):
        LeeRuntime.load(d)

    with pytest.raises(PluginError, match="manifest.json"):
        LeeRuntime.load(tmp_path / "nowhere")


# -- runtime ---------------------------------------------------------------------------------

def test_features_match_training_assembly(tiny, rt):
    model = tiny[0]
    gen = SyntheticGenerator(DATA, seed=5)
    rng = np.random.default_rng(11)
    for _ in range(50):
        expr, X, y, d = gen.sample_problem(rng)
        cand = gen.corrupt(expr, d, rng)
        f = evaluate_tokens(cand.tokens, cand.constants, X[: DATA.n_points])
        if np.isfinite(f).all() and d >= 2:
            break
    n = DATA.n_points
    b = assemble([(strip_scaling(expr), X, y, d, cand)], n)
    assert b["has_cand"][0]
    ref = np.concatenate([b["points"][..., : -enc.CAND_FEATURES], b["cand_feats"]], axis=-1)
    Xe, ye = X[:n], y[:n]
    got = rt.features(Xe, ye, yhat=enc.scaled_prediction(f, ye))
    np.testing.assert_allclose(got, ref, atol=1e-6)
    np.testing.assert_allclose(rt.features(Xe, ye), b["points"], atol=1e-6)
    prob = rt.prepare(Xe, ye)
    np.testing.assert_allclose(prob.qx, b["px"], atol=1e-6)
    np.testing.assert_allclose(prob.qy, b["py"], atol=1e-6)
    # encode with the candidate equals the torch encoder on the training arrays
    z = rt.encode(Xe, ye, [cand])
    L = int((b["cand_tokens"] != vocab.PAD).sum())
    with torch.no_grad():
        want = model.encode(torch.from_numpy(ref), torch.from_numpy(b["cand_tokens"][:, :L])).numpy()
    assert np.abs(z - want).max() <= 1e-4
    # subsampling is deterministic and bounded
    small = LeeRuntime(rt.model_dir, rt.manifest, rt.sessions, max_points=16)
    assert small.features(Xe, ye).shape == (1, 16, enc.POINT_FEATURES)
    np.testing.assert_array_equal(small.features(Xe, ye), small.features(Xe, ye))


def _check_tree(expr: Expression, n_vars: int, max_tokens: int, operators=None):
    validate_prefix(expr.tokens)
    assert len(expr.tokens) <= max_tokens
    assert all(v < n_vars for v in expr.variables)
    if operators is not None:
        from symdescent.expr import ops

        assert all(t in operators for t in expr.tokens if t in ops.OPERATORS)


class _Biased:
    """Wraps the decoder-step session and pushes logits towards forbidden choices."""

    def __init__(self, sess, bias):
        self.sess, self.bias = sess, bias

    def get_inputs(self):
        return self.sess.get_inputs()

    def run(self, names, feeds):
        logits, k, v = self.sess.run(names, feeds)
        return [logits + self.bias, k, v]


def test_grammar_constrained_decoding(rt):
    X, y = _problem()
    z = rt.encode(X, y, [Expression(("mul", "x0", "x1")), Expression(("sin", "x2"))])
    for n_vars, max_tokens, temp in ((1, 5, 3.0), (2, 1, 1.0), (3, 12, 2.0), (10, 31, 5.0)):
        props = rt.sample(z, 40, temperature=temp, rng=np.random.default_rng(n_vars), n_vars=n_vars,
                          max_tokens=max_tokens)
        assert props
        assert len({p.expression.tokens for p in props}) == len(props)
        assert all(p.log_prob <= 0 for p in props)
        assert [p.log_prob for p in props] == sorted((p.log_prob for p in props), reverse=True)
        for p in props:
            _check_tree(p.expression, n_vars, max_tokens)
            assert p.expression.constants == (1.0,) * p.expression.n_constants
    # a model that wants operators, specials and out-of-range variables still yields valid trees
    bias = np.zeros(vocab.VOCAB_SIZE, np.float32)
    bias[[vocab.PAD, vocab.BOS, vocab.EOS]] = 50.0
    bias[vocab.ARITY == 2] = 20.0
    bias[vocab.VAR_ID[2:]] = 30.0
    biased = LeeRuntime(rt.model_dir, rt.manifest, {**rt.sessions, "decoder_step": _Biased(rt.sessions["decoder_step"], bias)})
    for max_tokens in (3, 8, 31):
        props = biased.sample(z, 16, rng=np.random.default_rng(0), n_vars=2, max_tokens=max_tokens)
        lengths = {len(p.expression.tokens) for p in props}
        assert max(lengths) >= max_tokens - 1  # the bias fills the budget, the mask closes the tree
        for p in props:
            _check_tree(p.expression, 2, max_tokens)
        for p in biased.beam(z, 4, n_vars=2, max_tokens=max_tokens):
            _check_tree(p.expression, 2, max_tokens)
    ops_ = ("add", "sin")
    for p in rt.sample(z, 30, temperature=4.0, rng=np.random.default_rng(1), n_vars=3, operators=ops_):
        _check_tree(p.expression, 3, 31, ops_)


def _constrained_log_prob(model, z_row, expr: Expression, n_vars: int, max_tokens: int = vocab.MAX_LEN - 1):
    """Log-probability of ``expr`` under the grammar mask, by teacher forcing in torch."""
    ids = [vocab.INDEX[t] for t in expr.tokens]
    inp = torch.tensor([[vocab.BOS] + ids[:-1]])
    with torch.no_grad():
        logits = model.decode_logits(torch.from_numpy(z_row[None]), inp)[0].double().numpy()
    allowed = np.zeros(vocab.VOCAB_SIZE, bool)
    allowed[vocab.ARITY >= 0] = True
    allowed[vocab.VAR_ID[n_vars:]] = False
    total, open_ = 0.0, 1
    for t, tok in enumerate(ids):
        ok = allowed & (vocab.ARITY <= max_tokens - t - open_)
        row = np.where(ok, logits[t], -np.inf)
        total += row[tok] - np.log(np.exp(row - row.max()).sum()) - row.max()
        open_ += vocab.ARITY[tok] - 1
    return total


def test_log_probs_beam_and_determinism(tiny, rt):
    model = tiny[0]
    X, y = _problem(1, d=2)
    z = rt.encode(X, y)
    a = rt.sample(z, 32, rng=np.random.default_rng(9), n_vars=2)
    b = rt.sample(z, 32, rng=np.random.default_rng(9), n_vars=2)
    assert a == b
    for p in a[:5]:
        assert abs(p.log_prob - _constrained_log_prob(model, z[0], p.expression, 2)) < 1e-3
    beams = rt.beam(z, 6, n_vars=2)
    assert 1 <= len(beams) <= 6
    for p in beams:
        assert abs(p.log_prob - _constrained_log_prob(model, z[0], p.expression, 2)) < 1e-3
    greedy = rt.sample(z, 1, temperature=0.0, n_vars=2)[0]
    assert beams[0].log_prob >= greedy.log_prob - 1e-9 or greedy.expression in [p.expression for p in beams]
    # several rows of z: sources are reported
    z2 = rt.encode(X, y, [Expression(("x0",)), Expression(("mul", "x0", "x1"))])
    srcs = {p.source for p in rt.sample(z2, 20, rng=np.random.default_rng(0), n_vars=2)}
    assert srcs <= {0, 1} and srcs


def test_refine_and_predict(tiny, rt):
    model = tiny[0]
    X, y = _problem(2)
    z = rt.encode(X, y, [Expression(("x0",)), Expression(("sin", "x1")), Expression(("cos", "log", "x0"))])
    z1, losses = rt.refine_z(z, X, y, steps=3, step_size=0.05)
    assert z1.shape == z.shape and losses.shape == (3, 3)
    assert np.all(rt.fit_loss(z1, X, y) <= losses[0] + 1e-6)
    prob = rt.prepare(X, y)
    with torch.no_grad():
        want = model.fit_loss(torch.from_numpy(z), torch.from_numpy(np.repeat(prob.qx, 3, 0)),
                              torch.from_numpy(np.repeat(prob.qy, 3, 0)), torch.ones(3, prob.qy.shape[1]))
    assert np.abs(losses[0] - want.numpy()).max() <= 1e-4
    pred = rt.predict(z, X, y)
    assert pred.shape == (3, len(y)) and np.isfinite(pred).all()


def test_latency_experiment_times_the_runtime_and_its_torch_twin(tiny, rt):
    """latency.py drives the runtime through its public methods only, and its torch twin computes the same."""
    import copy

    from symdescent_lee.experiments import latency

    eager = latency.torch_runtime(rt, copy.deepcopy(tiny[0]))
    X, y = _problem()
    z = rt.encode(X, y)
    np.testing.assert_allclose(eager.encode(X, y), z, atol=1e-4)
    tokens = np.full((2, 6), vocab.INDEX["add"], dtype=np.int64)
    tokens[:, 0] = vocab.BOS
    zz = np.repeat(z, 2, axis=0)
    np.testing.assert_allclose(eager.decode_logits(zz, tokens), rt.decode_logits(zz, tokens), atol=1e-4)
    res = latency.measure(rt, repeats=1, n_candidates=8, n_refine=2, refine_steps=1)
    assert {key for key, _ in latency.ROWS} <= set(res)
    assert res["propose"]["unique"] >= 1 and res["full_length_bound"]["wall_ms"] > 0
    assert "full-length bound" in latency.report(res, None)


def test_runtime_runs_without_torch(tiny):
    code = f"""
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, _Block())
import numpy as np
from symdescent.expr import Expression
from symdescent_lee.runtime import LeeRuntime
rt = LeeRuntime.load({str(tiny[1])!r})
rng = np.random.default_rng(0)
X = rng.uniform(1, 2, size=(300, 2)); y = X[:, 0] * X[:, 1]
z = rt.encode(X, y)
props = rt.sample(z, 16, rng=rng, n_vars=2)
zc = rt.encode(X, y, [p.expression for p in props[:3]])
zc, _ = rt.refine_z(zc, X, y, steps=2)
assert props and rt.beam(zc, 2, n_vars=2)
bad = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
assert not bad, bad
training = sorted(m for m in sys.modules if m.startswith("symdescent_lee.training"))
assert not training, training  # inference needs none of the training code, torch-free parts included
print("ok", len(props))
"""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("ok")


@pytest.mark.slow
def test_export_cli_from_checkpoint(tiny, tmp_path):
    from symdescent_lee.training.train import save_checkpoint

    model, _, opt, cfg = tiny
    ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint(ckpt, model, opt, 3, cfg, 24, [])
    out = tmp_path / "exported"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    res = subprocess.run([sys.executable, "-m", "symdescent_lee.training.export", "--checkpoint", str(ckpt), "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    m = json.loads((out / "manifest.json").read_text())
    assert m["training"]["step"] == 3 and m["training"]["samples"] == 24
    assert m["training"]["config"]["model"]["d_model"] == TINY.d_model
    rt2 = LeeRuntime.load(out)
    X, y = _problem()
    np.testing.assert_allclose(rt2.encode(X, y), LeeRuntime.load(tiny[1]).encode(X, y), atol=1e-5)
