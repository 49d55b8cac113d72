"""Measure LEE inference latency on the ONNX runtime (and optionally torch eager).

Usage::

    python -m symdescent_lee.experiments.latency --model-dir exported_models/lee
    python -m symdescent_lee.experiments.latency --model-dir /tmp/lee --torch      # add the torch eager comparison

Workload (200 points x 5 variables, one thread by default):

* ``propose``: encode the data, sample 128 skeletons;
* ``refine round``: encode 16 candidates, 5 gradient steps on their z, sample
  128 skeletons from the 16 refined codes (8 each);
* ``full-length bound``: 128 rows decoded for all 31 positions (no row ever
  finishes), the worst case of one sampling call.

Times are medians over ``--repeats`` runs after one warm-up, as wall clock and
as process CPU time (on a busy machine CPU time is the better estimate of an
idle core's wall time).  The onnxruntime side needs no torch; ``--torch`` runs
the identical runtime code with every graph replaced by the torch model in
eager mode, so the ratio compares the graph executors alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from symdescent.expr.expression import Expression
from symdescent_lee import vocab
from symdescent_lee.runtime import MAX_TOKENS, LeeRuntime


def problem(n: int = 200, d: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 4.0, size=(n, d))
    y = X[:, 0] * np.sin(X[:, 1]) + np.sqrt(X[:, 2]) * X[:, 3] - 0.3 * X[:, 4] ** 2
    return X, y


def _timed(fn, repeats: int) -> tuple[dict, object]:
    fn()  # warm-up
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"wall_ms": 1e3 * statistics.median(walls), "cpu_ms": 1e3 * statistics.median(cpus),
            "wall_min_ms": 1e3 * min(walls)}, out


def measure(rt: LeeRuntime, repeats: int = 5, n_candidates: int = 128, n_refine: int = 16,
            refine_steps: int = 5, seed: int = 0) -> dict:
    X, y = problem()
    d = X.shape[1]
    res: dict = {}

    def propose():
        z = rt.encode(X, y)
        return rt.sample(z, n_candidates, rng=np.random.default_rng(seed), n_vars=d)

    res["propose"], props = _timed(propose, repeats)
    res["propose"]["unique"] = len(props)
    res["propose"]["mean_tokens"] = float(np.mean([len(p.expression.tokens) for p in props]))
    res["encode_data"], z = _timed(lambda: rt.encode(X, y), repeats)
    res["sample"], _ = _timed(lambda: rt.sample(z, n_candidates, rng=np.random.default_rng(seed), n_vars=d),
                              repeats)

    cands = [p.expression for p in props[:n_refine]]
    filler = [Expression(("mul", "x0", f"x{i % d}")) for i in range(n_refine)]
    cands = (cands + filler)[:n_refine]
    per_z = max(1, n_candidates // n_refine)

    def round_():
        zc = rt.encode(X, y, cands)
        zc, _ = rt.refine_z(zc, X, y, steps=refine_steps, step_size=0.5)
        return rt.sample(zc, per_z, rng=np.random.default_rng(seed), n_vars=d)

    res["refine_round"], out = _timed(round_, repeats)
    res["refine_round"]["unique"] = len(out)
    res["encode_candidates"], zc = _timed(lambda: rt.encode(X, y, cands), repeats)
    res["refine_steps"], _ = _timed(lambda: rt.refine_z(zc, X, y, steps=refine_steps, step_size=0.5), repeats)
    res["refine_steps_q64"], _ = _timed(
        lambda: rt.refine_z(zc, X, y, steps=refine_steps, step_size=0.5, n_query=64), repeats)
    res["sample_from_refined"], _ = _timed(
        lambda: rt.sample(zc, per_z, rng=np.random.default_rng(seed), n_vars=d), repeats)

    # BOS, then "add" at every position: no row ever completes, every step runs on all rows
    never_done = np.full((n_candidates, MAX_TOKENS), vocab.INDEX["add"], dtype=np.int64)
    never_done[:, 0] = vocab.BOS

    def full_length():
        return rt.decode_logits(np.repeat(z, n_candidates, axis=0), never_done, capacity=vocab.MAX_LEN)

    res["full_length_bound"], _ = _timed(full_length, max(1, repeats // 2))
    return res


class _TorchSession:
    """Looks like an onnxruntime session to LeeRuntime, runs a torch function in eager mode."""

    def __init__(self, fn, inputs, outputs):
        self.fn, self.inputs, self.outputs = fn, list(inputs), list(outputs)

    def get_inputs(self):
        return [SimpleNamespace(name=n) for n in self.inputs]

    def get_outputs(self):
        return [SimpleNamespace(name=n) for n in self.outputs]

    def run(self, names, feeds):
        import torch

        args = [torch.from_numpy(np.asarray(feeds[n])) for n in self.inputs]
        out = self.fn(*args)
        return [o.detach().numpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]


def torch_runtime(rt: LeeRuntime, checkpoint: str | None = None) -> LeeRuntime:
    """The same runtime with every graph run by the torch model (weights from ``checkpoint``,
    the manifest's checkpoint, or the manifest's untrained seed)."""
    import torch

    from symdescent_lee.training.model import LeeModel, ModelConfig, z_grad_fn

    train = rt.manifest.get("training", {})
    if checkpoint is None and train.get("checkpoint") and Path(train["checkpoint"]).is_file():
        checkpoint = train["checkpoint"]
    if checkpoint is not None:
        from symdescent_lee.training.export import load_model

        model, _ = load_model(checkpoint)
    elif train.get("untrained_seed") is not None:
        torch.manual_seed(int(train["untrained_seed"]))
        model = LeeModel(ModelConfig(**rt.manifest["model_config"])).eval()
    else:
        raise SystemExit("torch comparison needs --checkpoint (the export records no weights source)")
    torch.set_num_threads(1)
    n = model.cfg.decoder_layers
    gi = torch.inference_mode

    def enc_fn(points, tokens):
        with gi():
            return model.encode(points, tokens)

    def init_fn(z):
        with gi():
            return model.cross_kv(z)

    def step_fn(token, pos, *layers):
        with gi():
            ck, cv, kk, vv = (layers[j * n:(j + 1) * n] for j in range(4))
            return model.decode_step(token, pos, ck, cv, kk, vv)

    def eval_fn(z, x):
        with gi():
            return model.evaluate(z, x)

    grad = z_grad_fn(model)
    for p in model.parameters():
        p.requires_grad_(False)
    s = rt.sessions
    names = lambda k: ([i.name for i in s[k].get_inputs()], [o.name for o in s[k].get_outputs()])  # noqa: E731
    sessions = {
        "encoder": _TorchSession(enc_fn, *names("encoder")),
        "decoder_init": _TorchSession(init_fn, *names("decoder_init")),
        "decoder_step": _TorchSession(step_fn, *names("decoder_step")),
        "evaluate": _TorchSession(eval_fn, *names("evaluate")),
        "fit_grad": _TorchSession(grad, *names("fit_grad")),
    }
    return LeeRuntime(rt.model_dir, rt.manifest, sessions, max_points=rt.max_points, seed=rt.seed)


ROWS = (
    ("propose", "propose 128 (encode + sample)"),
    ("encode_data", "  encode data"),
    ("sample", "  sample 128"),
    ("refine_round", "refine round (16 enc + 5 grad + 128)"),
    ("encode_candidates", "  encode 16 candidates"),
    ("refine_steps", "  5 gradient steps (16 z)"),
    ("sample_from_refined", "  sample 8 x 16 z"),
    ("refine_steps_q64", "  (5 gradient steps, 64 query points)"),
    ("full_length_bound", "full-length bound (128 x 31 steps)"),
)


def report(onnx: dict, eager: dict | None) -> str:
    head = f"{'':40s} {'onnx wall':>10s} {'onnx cpu':>9s}"
    if eager:
        head += f" {'torch wall':>10s} {'torch cpu':>9s} {'ratio(cpu)':>10s}"
    lines = [head]
    for key, label in ROWS:
        o = onnx[key]
        line = f"{label:40s} {o['wall_ms']:8.1f}ms {o['cpu_ms']:7.1f}ms"
        if eager:
            e = eager[key]
            line += f" {e['wall_ms']:8.1f}ms {e['cpu_ms']:7.1f}ms {e['cpu_ms'] / max(o['cpu_ms'], 1e-9):9.2f}x"
        lines.append(line)
    lines.append(f"propose: {onnx['propose']['unique']} unique skeletons, "
                 f"mean {onnx['propose']['mean_tokens']:.1f} tokens")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--torch", action="store_true", help="also time the same work in torch eager (needs torch)")
    p.add_argument("--checkpoint", help="torch weights for --torch (default: from the manifest)")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    rt = LeeRuntime.load(args.model_dir, threads=args.threads)
    onnx = measure(rt, args.repeats)
    eager = measure(torch_runtime(rt, args.checkpoint), args.repeats) if args.torch else None
    print(report(onnx, eager))
    if args.json:
        Path(args.json).write_text(json.dumps({"onnx": onnx, "torch_eager": eager, "threads": args.threads},
                                              indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
