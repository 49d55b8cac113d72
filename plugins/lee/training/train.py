"""Train LEE on synthetic expressions; resumable, with progress and checkpoints.

Usage::

    python -m symdescent_lee.training.train --out runs/lee --hours 6
    python -m symdescent_lee.training.train --out runs/lee --resume     # continue exactly
    python -m symdescent_lee.training.train --out runs/lee --compact training/lee_checkpoint.pt
    python -m symdescent_lee.training.train --out runs/lee --resume-from training/lee_checkpoint.pt
    python -m symdescent_lee.training.train --out runs/lee_final --resume-from runs/lee/checkpoint.pt --anneal-steps 2200
    python -m symdescent_lee.training.train --out runs/lee_dim --resume-from runs/lee/checkpoint.pt --set data.p_dimensional=0.5

Batch ``k`` is a pure function of the data seed and ``k``, and the checkpoint
holds the model, the optimiser and the step, so a resumed run continues the
same stream.  A checkpoint is written every ``--checkpoint-minutes`` and on
Ctrl-C.

The learning-rate schedule is open-ended (warm-up, then inverse square root),
so training can always go on.  ``--anneal-steps N`` ends a run instead: from
the step it starts at, the rate falls linearly to zero over ``N`` steps and
training stops there (a cool-down, as in warmup-stable-decay schedules).  Run
it into its own ``--out`` folder from a copy of the main run, so the main run
keeps its un-annealed state to continue from; the cool-down is recorded in the
checkpoint and an interrupted one resumes where it stopped.

``--set KEY=VALUE`` changes a training or data setting (``lr``,
``data.p_dimensional``, ...; not the model's shape) of a new run or of one
resumed from a checkpoint, from that step on: a fine-tune on another data mix
continues from the main run without touching it.  The change is kept in the
run's checkpoint and ``config.json``, so a later ``--resume`` goes on with it.

Validation uses the plain-grammar distribution (``p_dimensional = 0``) so that
its losses compare across runs; a run that trains on dimensionally homogeneous
expressions also reports them on a validation set of those (``valid_dim``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from symdescent_lee import vocab
from symdescent_lee.training.data import DataConfig, SyntheticGenerator
from symdescent_lee.training.model import LeeModel, ModelConfig, count_parameters


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 128
    lr: float = 5e-4
    warmup: int = 1000
    weight_decay: float = 0.01
    eval_weight: float = 0.5
    label_smoothing: float = 0.0
    grad_clip: float = 1.0
    data_seed: int = 0
    valid_seed: int = 10_000_019
    valid_size: int = 256
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        model = ModelConfig(**d.pop("model", {}))
        data_d = dict(d.pop("data", {}))
        if "var_weights" in data_d:
            data_d["var_weights"] = tuple(data_d["var_weights"])
        return cls(model=model, data=DataConfig(**data_d), **d)


def apply_settings(cfg: TrainConfig, settings: list[str], resumed: bool) -> TrainConfig:
    """``cfg`` with ``KEY=VALUE`` settings applied (``data.KEY`` for the data, JSON values).

    Unknown keys, model keys on a resumed run and values of the wrong type are
    errors that name the key.
    """
    top = {k: v for k, v in cfg.to_dict().items() if not isinstance(v, dict)}
    data = cfg.data.to_dict()
    for item in settings:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise SystemExit(f"--set {key}: {raw!r} is not a JSON value (numbers, true/false, \"text\", [..])")
        if key.startswith("model."):
            raise SystemExit(f"--set {key}: the model's settings cannot change"
                             + (" on a resumed run" if resumed else "; use --config for a new model"))
        section, name = (data, key[5:]) if key.startswith("data.") else (top, key)
        known = [f"data.{k}" for k in data] + list(top)
        if name not in section:
            close = difflib.get_close_matches(key, known, n=1)
            raise SystemExit(f"--set: unknown setting {key!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
        section[name] = _coerce(key, section[name], value)
    try:
        return TrainConfig.from_dict({**top, "model": cfg.to_dict()["model"], "data": data})
    except ValueError as exc:
        raise SystemExit(f"--set: {exc}")


def _coerce(key: str, old, value):
    """``value`` as the type of the setting's current value ``old``, or an error naming ``key``."""
    ok = (isinstance(value, bool) if isinstance(old, bool)
          else isinstance(value, int) and not isinstance(value, bool) if isinstance(old, int)
          else isinstance(value, (int, float)) and not isinstance(value, bool) if isinstance(old, float)
          else isinstance(value, list) if isinstance(old, (list, tuple))
          else isinstance(value, type(old)))
    if not ok:
        raise SystemExit(f"--set {key}: expected a value like {json.dumps(old)}, got {json.dumps(value)}")
    return float(value) if isinstance(old, float) else tuple(value) if isinstance(old, tuple) else value


def to_tensors(batch: dict, device) -> dict:
    return {k: torch.as_tensor(v, device=device) for k, v in batch.items()}


def losses(model: LeeModel, b: dict, cfg: TrainConfig, train: bool = True) -> dict:
    """Reconstruction from data alone and from data + corrupted candidate, plus g_eval."""
    B = b["tgt"].shape[0]
    pad_tokens = torch.zeros(B, 1, dtype=torch.long, device=b["tgt"].device)
    z0 = model.encode(b["points"], pad_tokens)
    cand_points = torch.cat([b["points"][..., : -b["cand_feats"].shape[-1]], b["cand_feats"]], dim=-1)
    rows = torch.nonzero(b["has_cand"]).squeeze(1)  # re-encoding only where a candidate exists
    z1 = model.encode(cand_points[rows], b["cand_tokens"][rows])
    inp = torch.cat([torch.full((B, 1), vocab.BOS, device=b["tgt"].device), b["tgt"][:, :-1]], dim=1)
    out = {}
    for name, z, idx in (("rec", z0, slice(None)), ("rep", z1, rows)):
        tgt, qx, qy = b["tgt"][idx], b["qx"][idx], b["qy"][idx]
        zin = z + model.cfg.z_noise * torch.randn_like(z) if train else z
        logits = model.decode_logits(zin, inp[idx])
        ce = F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=vocab.PAD, reduction="none",
                             label_smoothing=cfg.label_smoothing if train else 0.0)
        tok = (tgt != vocab.PAD).float()
        out[f"{name}_ce"] = ((ce * tok).sum(1) / tok.sum(1)).mean()
        exact = ((logits.argmax(-1) == tgt) | (tgt == vocab.PAD)).all(1).float()
        out[f"{name}_exact"] = exact.mean()
        out[f"{name}_eval"] = model.fit_loss(z, qx, qy, torch.ones_like(qy)).mean()
    out["loss"] = out["rec_ce"] + out["rep_ce"] + cfg.eval_weight * (out["rec_eval"] + out["rep_eval"])
    return out


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then inverse-square-root decay (open-ended: no fixed horizon)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cfg.lr * math.sqrt(cfg.warmup / (step + 1))


def annealed_lr(step: int, cfg: TrainConfig, anneal: dict | None) -> float:
    """``lr_at`` times the cool-down factor: 1 before ``anneal["start"]``, falling
    linearly to 0 at ``anneal["start"] + anneal["steps"]``."""
    lr = lr_at(step, cfg)
    if not anneal:
        return lr
    done = (step - anneal["start"]) / anneal["steps"]
    return lr * min(1.0, max(0.0, 1.0 - done))


def save_checkpoint(path: Path, model, opt, step: int, cfg: TrainConfig, samples: int, history: list,
                    anneal: dict | None = None) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({
        "model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "samples": samples,
        "config": cfg.to_dict(), "history": history[-200:], "anneal": anneal,
    }, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, device="cpu"):
    state = torch.load(path, map_location=device, weights_only=False)
    if state.get("compact"):  # optimiser moments were stored in bfloat16: widen them again
        for s in state["optimizer"]["state"].values():
            for k, v in s.items():
                if torch.is_tensor(v) and v.dtype == torch.bfloat16:
                    s[k] = v.float()
    return state


def save_compact(src: Path, dst: Path) -> None:
    """Copy a checkpoint with the optimiser's moments in bfloat16 (about 2/3 of the size).

    The model stays in float32; resuming from the copy continues the same data
    stream and schedule, with moments rounded to bfloat16 once.  This is the
    form committed to git between sessions (the brief caps it at 25 MB).
    """
    state = torch.load(src, map_location="cpu", weights_only=False)
    for s in state["optimizer"]["state"].values():
        for k, v in s.items():
            if torch.is_tensor(v) and v.is_floating_point() and v.dim() > 0:
                s[k] = v.to(torch.bfloat16)
    state["compact"] = True
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, dst)


def build(cfg: TrainConfig, device):
    model = LeeModel(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    return model, opt


def train(args) -> Path:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    if args.compact:
        save_compact(ckpt_path, Path(args.compact))
        print(f"compact checkpoint -> {args.compact} ({Path(args.compact).stat().st_size / 1e6:.1f} MB)")
        return Path(args.compact)
    source = Path(args.resume_from) if args.resume_from else ckpt_path
    if (args.resume or args.resume_from) and source.exists():
        state = load_checkpoint(source, device)
        cfg = TrainConfig.from_dict(state["config"])
        model, opt = build(cfg, device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, samples, history = state["step"], state["samples"], state.get("history", [])
        anneal = state.get("anneal")
        print(f"resumed from {source} at step {step} ({samples:,} samples)", flush=True)
    else:
        cfg = TrainConfig(**({} if args.config is None else {}))
        if args.config:
            cfg = TrainConfig.from_dict(json.loads(Path(args.config).read_text()))
        if args.batch_size:
            cfg = replace(cfg, batch_size=args.batch_size)
        torch.manual_seed(cfg.data_seed)
        model, opt = build(cfg, device)
        step, samples, history = 0, 0, []
        anneal = None
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    if args.set:
        cfg = apply_settings(cfg, args.set, resumed=step > 0)
        print("settings: " + ", ".join(args.set), flush=True)
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    if args.anneal_steps is not None:
        if args.anneal_steps < 1:
            raise SystemExit(f"--anneal-steps must be a positive number of steps, got {args.anneal_steps}")
        if anneal and anneal["start"] + anneal["steps"] != step + args.anneal_steps:
            raise SystemExit(f"the checkpoint is already annealing from step {anneal['start']} over "
                             f"{anneal['steps']} steps; resume without --anneal-steps to finish it")
        anneal = anneal or {"start": step, "steps": int(args.anneal_steps)}
    end = anneal["start"] + anneal["steps"] if anneal else None
    if end is not None:
        print(f"cool-down: learning rate to 0 linearly from step {anneal['start']} to step {end}", flush=True)
    print(f"LEE model: {count_parameters(model):,} parameters; device {device}; threads {args.threads}", flush=True)
    gen = SyntheticGenerator(cfg.data, seed=cfg.data_seed)
    plain = replace(cfg.data, p_dimensional=0.0)
    valid_sets = {"valid": to_tensors(SyntheticGenerator(plain, seed=cfg.valid_seed).batch(0, cfg.valid_size), device)}
    if cfg.data.p_dimensional > 0:
        dim = replace(cfg.data, p_dimensional=1.0)
        valid_sets["valid_dim"] = to_tensors(SyntheticGenerator(dim, seed=cfg.valid_seed).batch(0, cfg.valid_size),
                                             device)
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    # restored when training returns, so a caller's own handling (a test run, a search) is left as it was
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _loop(args, out, cfg, model, opt, gen, valid_sets, history, anneal, step, samples, end, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _loop(args, out, cfg, model, opt, gen, valid_sets, history, anneal, step, samples, end, stop):
    """The training loop of :func:`train`, until the flag in ``stop``, the deadline or the last step."""
    ckpt_path = out / "checkpoint.pt"
    device = next(model.parameters()).device
    deadline = time.time() + args.hours * 3600 if args.hours else math.inf
    last_ckpt = time.time()
    t0, s0 = time.time(), samples
    log = open(out / "log.jsonl", "a")
    running: dict[str, float] = {}
    model.train()
    limit = min(x for x in (args.steps, end, math.inf) if x is not None)
    while not stop["flag"] and time.time() < deadline and step < limit:
        torch.manual_seed(cfg.data_seed * 1_000_003 + step)  # z-noise stream follows the step too
        b = to_tensors(gen.batch(step, cfg.batch_size), device)
        for g in opt.param_groups:
            g["lr"] = annealed_lr(step, cfg, anneal)
        parts = losses(model, b, cfg)
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        samples += cfg.batch_size
        for k, v in parts.items():
            v = float(v.detach())
            running[k] = 0.98 * running.get(k, v) + 0.02 * v
        if step % args.log_every == 0:
            rate = (samples - s0) / max(time.time() - t0, 1e-9) * 3600
            msg = " ".join(f"{k}={v:.3f}" for k, v in running.items())
            lr = annealed_lr(step, cfg, anneal)
            print(f"step {step} samples {samples:,} ({rate / 1e6:.2f}M/h) lr {lr:.2e} {msg}", flush=True)
        if step % args.valid_every == 0:
            model.eval()
            for name, valid in valid_sets.items():
                with torch.no_grad():
                    v = {k: float(x) for k, x in losses(model, valid, cfg, train=False).items()}
                rec = {"step": step, "samples": samples, "time": time.time(), **v}
                if name != "valid":
                    rec["split"] = name
                history.append(rec)
                log.write(json.dumps(rec) + "\n")
                log.flush()
                print(f"{name} " + " ".join(f"{k}={x:.4f}" for k, x in v.items()), flush=True)
            model.train()
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            save_checkpoint(ckpt_path, model, opt, step, cfg, samples, history, anneal)
            last_ckpt = time.time()
    save_checkpoint(ckpt_path, model, opt, step, cfg, samples, history, anneal)
    print(f"checkpoint at step {step} ({samples:,} samples) -> {ckpt_path}", flush=True)
    return ckpt_path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/lee", help="run folder (checkpoint.pt, log.jsonl, config.json)")
    p.add_argument("--config", help="JSON training config (TrainConfig fields); ignored on --resume")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if present")
    p.add_argument("--resume-from", help="continue from this checkpoint (e.g. the committed compact one)")
    p.add_argument("--compact", metavar="PATH", help="write OUT/checkpoint.pt in compact form to PATH and exit")
    p.add_argument("--hours", type=float, default=None, help="wall-clock limit")
    p.add_argument("--steps", type=int, default=None, help="stop at this step")
    p.add_argument("--anneal-steps", type=int, default=None,
                   help="cool down: learning rate linearly to 0 over this many steps from the start step, then stop")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a training or data setting from this step on (data.p_dimensional=0.5, lr=3e-4)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--valid-every", type=int, default=500)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    args = p.parse_args(argv)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
