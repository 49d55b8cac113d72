"""Export a LEE checkpoint to ONNX graphs plus a manifest (torch needed here only).

Usage::

    python -m symdescent_lee.training.export --checkpoint runs/lee/checkpoint.pt --out exported_models/lee

Five graphs are written, each with its own copy of the weights it uses:

``encoder.onnx``       (points (B, n, POINT_FEATURES) f32, tokens (B, L) i64) -> z (B, K, d)
``decoder_init.onnx``  z -> cross_k, cross_v (layers, B, heads, K, head_dim)
``decoder_step.onnx``  (token (B,), pos (), cross_k, cross_v, cache_k, cache_v (T, layers, B, heads, head_dim))
                       -> logits (B, V), new_k, new_v (layers, B, heads, head_dim)
``evaluate.onnx``      (z, x (B, q, X_FEATURES)) -> y (B, q)
``fit_grad.onnx``      (z, x, y (B, q), w (B, q)) -> loss (B,), grad (B, K, d): the data-fit loss of
                       g_eval and its gradient in z, a backward pass written out by hand

``manifest.json`` records the vocabulary, the numeric-encoding constants, the
inputs and outputs of every graph, the SHA-256 of every file and the training
config; :class:`symdescent_lee.runtime.LeeRuntime` checks all of it on load.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from symdescent_lee import encoding as enc
from symdescent_lee import vocab
from symdescent_lee.manifest import FORMAT, GRAPHS
from symdescent_lee.training.model import LeeModel, ModelConfig, count_parameters, fit_loss_and_grad

FORMAT_VERSION = 1
OPSET = 18


class _Encoder(nn.Module):
    def __init__(self, model: LeeModel):
        super().__init__()
        self.model = model

    def forward(self, points, tokens):
        return self.model.encode(points, tokens)


class _DecoderInit(nn.Module):
    def __init__(self, model: LeeModel):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.cross_kv(z)


class _DecoderStep(nn.Module):
    def __init__(self, model: LeeModel):
        super().__init__()
        self.model = model
        self.n = model.cfg.decoder_layers

    def forward(self, token, pos, *layers):
        # layers: cross_k_0.., cross_v_0.., cache_k_0.., cache_v_0.. (flat, so ONNX input names are simple)
        n = self.n
        ck, cv, kk, vv = (layers[j * n:(j + 1) * n] for j in range(4))
        return self.model.decode_step(token, pos, ck, cv, kk, vv)


class _Evaluate(nn.Module):
    def __init__(self, model: LeeModel):
        super().__init__()
        self.model = model

    def forward(self, z, x):
        return self.model.evaluate(z, x)


class _FitGrad(nn.Module):
    """The data-fit loss of ``g_eval`` and its gradient in ``z``: a backward pass written
    out by hand (:func:`symdescent_lee.training.model.fit_loss_and_grad`), exported as a graph of its own."""

    def __init__(self, model: LeeModel):
        super().__init__()
        self.model = model

    def forward(self, z, x, y, w):
        return fit_loss_and_grad(self.model, z, x, y, w)


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def load_model(checkpoint) -> tuple[LeeModel, dict]:
    """A model in eval mode and the checkpoint's metadata (config, step, samples).

    A :class:`LeeModel` passed in is put in eval mode (dropout-free anyway).
    """
    if isinstance(checkpoint, LeeModel):
        return checkpoint.eval(), {"config": {"model": checkpoint.cfg.to_dict()}}
    from symdescent_lee.training.train import TrainConfig, load_checkpoint

    state = load_checkpoint(Path(checkpoint), "cpu")
    cfg = TrainConfig.from_dict(state["config"])
    model = LeeModel(cfg.model)
    model.load_state_dict(state["model"])
    meta = {"config": cfg.to_dict(), "step": state.get("step"), "samples": state.get("samples"),
            "checkpoint": str(checkpoint), "anneal": state.get("anneal")}
    return model.eval(), meta


def example_inputs(model: LeeModel, batch: int = 3, points: int = 7, length: int = 5, cache: int = 4):
    """Example tensors for every graph (sizes >= 2 so that no dimension is specialised)."""
    c = model.cfg
    g = torch.Generator().manual_seed(0)
    hd = c.d_model // c.n_heads
    z = torch.randn(batch, c.n_latent, c.d_model, generator=g)
    ck, cv = model.cross_kv(z)
    return {
        "encoder": (torch.randn(batch, points, enc.POINT_FEATURES, generator=g),
                    torch.randint(3, vocab.VOCAB_SIZE, (batch, length), generator=g)),
        "decoder_init": (z,),
        "decoder_step": (torch.randint(3, vocab.VOCAB_SIZE, (batch,), generator=g), torch.tensor(2),
                         *ck.detach().unbind(0), *cv.detach().unbind(0),
                         *(torch.randn(batch, c.n_heads, cache, hd, generator=g) for _ in range(2 * c.decoder_layers))),
        "evaluate": (z, torch.randn(batch, points, enc.X_FEATURES, generator=g)),
        "fit_grad": (z, torch.randn(batch, points, enc.X_FEATURES, generator=g),
                     torch.randn(batch, points, generator=g), torch.ones(batch, points)),
    }


def step_input_names(layers: int) -> tuple[str, ...]:
    return ("token", "pos") + tuple(f"{kind}_{i}" for kind in ("cross_k", "cross_v", "cache_k", "cache_v")
                                    for i in range(layers))


def _specs(layers: int):
    Dim = torch.export.Dim
    B = Dim("batch", min=1, max=65536)
    N = Dim("points", min=1, max=1 << 20)
    L = Dim("length", min=1, max=vocab.MAX_LEN)
    T = Dim("cache_len", min=1, max=vocab.MAX_LEN)
    step_names = step_input_names(layers)
    step_dyn = {"token": {0: B}, "pos": None}
    for name in step_names[2:]:
        step_dyn[name] = {0: B} if name.startswith("cross") else {0: B, 2: T}
    return {
        "encoder": (("points", "tokens"), ("z",),
                    {"points": {0: B, 1: N}, "tokens": {0: B, 1: L}}),
        "decoder_init": (("z",), ("cross_k", "cross_v"), {"z": {0: B}}),
        "decoder_step": (step_names, ("logits", "new_k", "new_v"), step_dyn),
        "evaluate": (("z", "x"), ("y",), {"z": {0: B}, "x": {0: B, 1: N}}),
        "fit_grad": (("z", "x", "y", "w"), ("loss", "grad"),
                     {"z": {0: B}, "x": {0: B, 1: N}, "y": {0: B, 1: N}, "w": {0: B, 1: N}}),
    }


def _dyn_tuple(names, dyn) -> tuple:
    """Dynamic shapes in the structure of the forward arguments (the decoder step takes
    ``token, pos, *layers``: its per-layer tensors form one tuple argument)."""
    flat = [dyn[n] for n in names]
    if names[:2] == ("token", "pos"):
        return (flat[0], flat[1], tuple(flat[2:]))
    return tuple(flat)


def _export_one(module, args, path: Path, names, out_names, dyn, opset: int) -> None:
    quiet = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            prog = torch.onnx.export(
                module, args, dynamo=True, dynamic_shapes=_dyn_tuple(names, dyn), input_names=list(names),
                output_names=list(out_names), opset_version=opset, external_data=False, optimize=True,
                verbose=False,
            )
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
    prog.save(str(path), external_data=False)


def _io(path: Path) -> dict:
    import onnx

    m = onnx.load(str(path))

    def desc(v):
        t = v.type.tensor_type
        shape = [d.dim_param if d.dim_param else int(d.dim_value) for d in t.shape.dim]
        return {"name": v.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name, "shape": shape}

    return {"inputs": [desc(v) for v in m.graph.input], "outputs": [desc(v) for v in m.graph.output]}


def export_model(checkpoint, out_dir, *, metrics: dict | None = None, opset: int = OPSET,
                 graphs=GRAPHS, quiet: bool = True, extra_meta: dict | None = None) -> Path:
    """Export ``checkpoint`` (a path to a training checkpoint or a :class:`LeeModel`)
    to ``out_dir``; returns the path of ``manifest.json``."""
    model, meta = load_model(checkpoint)
    meta = {**meta, **(extra_meta or {})}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flags = [p.requires_grad for p in model.parameters()]
    try:
        return _export(model, meta, out, metrics, opset, graphs, quiet)
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)


def _export(model: LeeModel, meta: dict, out: Path, metrics, opset: int, graphs, quiet: bool) -> Path:
    for p in model.parameters():
        p.requires_grad_(False)
    ex = example_inputs(model)
    specs = _specs(model.cfg.decoder_layers)
    modules = {
        "encoder": lambda: _Encoder(model),
        "decoder_init": lambda: _DecoderInit(model),
        "decoder_step": lambda: _DecoderStep(model),
        "evaluate": lambda: _Evaluate(model),
        "fit_grad": lambda: _FitGrad(model),
    }
    files = {}
    for name in graphs:
        names, out_names, dyn = specs[name]
        path = out / f"{name}.onnx"
        with torch.no_grad():
            _export_one(modules[name](), ex[name], path, names, out_names, dyn, opset)
        files[name] = {"file": path.name, **_io(path)}
        if not quiet:
            print(f"{name}: {path.stat().st_size / 1e6:.2f} MB", flush=True)
    c = model.cfg
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "opset": opset,
        "torch_version": torch.__version__,
        "parameters": count_parameters(model),
        "model_config": c.to_dict(),
        "vocabulary": list(vocab.TOKENS),
        "special_tokens": {"pad": vocab.PAD, "bos": vocab.BOS, "eos": vocab.EOS},
        "max_len": vocab.MAX_LEN,
        "encoding": {
            "MAX_VARS": enc.MAX_VARS, "SCALAR_FEATURES": enc.SCALAR_FEATURES, "X_FEATURES": enc.X_FEATURES,
            "Y_FEATURES": enc.Y_FEATURES, "CAND_FEATURES": enc.CAND_FEATURES,
            "POINT_FEATURES": enc.POINT_FEATURES, "STD_CLIP": enc.STD_CLIP,
        },
        "shapes": {"n_latent": c.n_latent, "d_model": c.d_model, "n_heads": c.n_heads,
                   "head_dim": c.d_model // c.n_heads, "decoder_layers": c.decoder_layers},
        "graphs": files,
        "sha256": {f["file"]: sha256(out / f["file"]) for f in files.values()},
        "training": {"config": meta.get("config"), "step": meta.get("step"), "samples": meta.get("samples"),
                     "checkpoint": meta.get("checkpoint"), "untrained_seed": meta.get("untrained_seed"),
                     "anneal": meta.get("anneal")},
        "metrics": dict(metrics or {}),
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="training checkpoint (runs/lee/checkpoint.pt)")
    src.add_argument("--untrained", action="store_true", help="export a freshly initialised model (for tests and timing)")
    p.add_argument("--out", required=True, help="output folder (e.g. exported_models/lee)")
    p.add_argument("--metrics", help="JSON file whose object is stored as the manifest's metrics")
    p.add_argument("--opset", type=int, default=OPSET)
    p.add_argument("--seed", type=int, default=0, help="initialisation seed with --untrained")
    args = p.parse_args(argv)
    metrics = json.loads(Path(args.metrics).read_text()) if args.metrics else None
    if args.untrained:
        torch.manual_seed(args.seed)
        source = LeeModel(ModelConfig())
    else:
        source = args.checkpoint
    extra = {"untrained_seed": args.seed} if args.untrained else None
    path = export_model(source, args.out, metrics=metrics, opset=args.opset, quiet=False, extra_meta=extra)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
