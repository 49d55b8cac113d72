"""LEE as a symdescent plugin: the ``lee`` proposer and the ``lee`` refiner.

* proposer: encode the data alone into ``z`` and decode skeletons from it
  (beam search on the first call, then sampling at rising temperature);
* refiner: for the best candidates of any origin, re-encode each jointly with
  the data (the encoder sees where the candidate misses), take gradient steps
  on ``z`` through the evaluation decoder, decode again; repeat for a few
  rounds with the best of what came back.

Both share one loaded model per search.  Only numpy and onnxruntime are used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symdescent.errors import ConfigError, PluginError
from symdescent.hookspecs import hookimpl
from symdescent.registry import PluginContext, PluginInfo


def default_model_dir() -> Path:
    """The model shipped with the package (``exported_models/lee``)."""
    from importlib.resources import files

    return Path(str(files("symdescent_models") / "lee"))


@dataclass(frozen=True)
class LeeConfig:
    """Settings of ``[plugins.lee]``.

    Attributes
    ----------
    model : str
        Folder of an exported model (``""``: the shipped model).
    first_samples : int
        Skeletons sampled on the first proposal call (the one-shot proposal
        from the data alone, beside the beam).
    samples : int
        Skeletons sampled per later proposal call.
    beam_width : int
        Beam width of the first proposal call (0: sampling only).
    temperature : float
        Sampling temperature of the first call; later calls raise it.
    refine_iterations : int
        Re-encode/decode rounds per refine call.
    refine_candidates : int
        Best candidates re-encoded per round.
    refine_samples : int
        Skeletons sampled from each re-encoded (and refined) ``z``.
    gradient_steps : int
        Gradient steps on ``z`` per round (0: re-encoding only).
    step_size : float
        Gradient step size on ``z``.
    query_points : int
        Points used by the gradient steps.
    max_points : int
        Points the encoder sees (a seeded subsample of the data).
    threads : int
        onnxruntime intra-op threads.
    """

    model: str = ""
    first_samples: int = 1024
    samples: int = 128
    beam_width: int = 64
    temperature: float = 1.0
    refine_iterations: int = 2
    refine_candidates: int = 8
    refine_samples: int = 16
    gradient_steps: int = 5
    step_size: float = 0.5
    query_points: int = 64
    max_points: int = 200
    threads: int = 1

    def validate(self) -> "LeeConfig":
        for key in ("first_samples", "samples", "refine_candidates", "refine_samples", "max_points", "threads",
                    "query_points"):
            if getattr(self, key) < 1:
                raise ConfigError(f"plugins.lee.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("beam_width", "refine_iterations", "gradient_steps"):
            if getattr(self, key) < 0:
                raise ConfigError(f"plugins.lee.{key} must be >= 0, got {getattr(self, key)}")
        if self.temperature <= 0 or self.step_size < 0:
            raise ConfigError("plugins.lee.temperature must be > 0 and step_size >= 0")
        if self.model and not Path(self.model).is_dir():
            raise ConfigError(f"plugins.lee.model: no such folder {self.model!r}")
        return self

    def model_dir(self) -> Path:
        return Path(self.model) if self.model else default_model_dir()


def _runtime(ctx: PluginContext):
    """The search's loaded model, shared by the proposer and the refiner."""
    if "runtime" not in ctx.shared:
        from symdescent_lee.runtime import LeeRuntime

        cfg = ctx.config or LeeConfig()
        ctx.shared["runtime"] = LeeRuntime.load(cfg.model_dir(), threads=cfg.threads, max_points=cfg.max_points,
                                                seed=ctx.seed)
    return ctx.shared["runtime"]


def _check_problem(problem) -> None:
    from symdescent_lee.encoding import MAX_VARS

    if problem.n_features > MAX_VARS:
        raise PluginError(f"LEE handles at most {MAX_VARS} variables; this problem has {problem.n_features}")


class LeeProposer:
    """Decodes candidate skeletons from the data alone."""

    def __init__(self, ctx: PluginContext):
        self.ctx = ctx
        self.cfg: LeeConfig = ctx.config or LeeConfig()
        self.rng = ctx.rng
        self.calls = 0
        self.z0 = None

    @hookimpl
    def symdescent_start(self, problem, state):
        _check_problem(problem)
        self.rt = _runtime(self.ctx)
        self.z0 = self.rt.encode(problem.X, problem.y)

    @hookimpl
    def symdescent_propose(self, problem, state):
        rt, cfg = self.rt, self.cfg
        kw = dict(n_vars=problem.n_features, operators=problem.operators,
                  max_tokens=min(problem.max_complexity, 31))
        out = []
        if self.calls == 0 and cfg.beam_width:
            out += [p.expression for p in rt.beam(self.z0, cfg.beam_width, **kw)]
        temperature = cfg.temperature * (1.0 + 0.25 * min(self.calls, 4))
        n = cfg.first_samples if self.calls == 0 else cfg.samples
        out += [p.expression for p in rt.sample(self.z0, n, temperature, self.rng, **kw)]
        self.calls += 1
        return out


class LeeRefiner:
    """Re-encodes the best candidates with the data, steps ``z`` down the fit loss, decodes again."""

    def __init__(self, ctx: PluginContext):
        self.ctx = ctx
        self.cfg: LeeConfig = ctx.config or LeeConfig()
        self.rng = ctx.rng
        #: lowest loss in the pool after each round of each call (round 0: the
        #: candidates handed in): how much each round helps
        self.round_losses: list[list[float]] = []

    @hookimpl
    def symdescent_start(self, problem, state):
        _check_problem(problem)
        self.rt = _runtime(self.ctx)

    @hookimpl
    def symdescent_refine(self, problem, candidates, state):
        cfg, rt = self.cfg, self.rt
        kw = dict(n_vars=problem.n_features, operators=problem.operators,
                  max_tokens=min(problem.max_complexity, 31))
        pool = sorted((c for c in candidates if c.valid), key=lambda c: c.value)
        found = []
        losses = [min(c.loss for c in pool)] if pool else []
        for _ in range(cfg.refine_iterations):
            if not pool or time.monotonic() >= state.deadline:
                break
            seeds = pool[: cfg.refine_candidates]
            z = rt.encode(problem.X, problem.y, [c.expression for c in seeds])
            if cfg.gradient_steps:
                z, _ = rt.refine_z(z, problem.X, problem.y, steps=cfg.gradient_steps, step_size=cfg.step_size,
                                   n_query=cfg.query_points)
            decoded = [p.expression for p in rt.sample(z, cfg.refine_samples, cfg.temperature, self.rng, **kw)]
            scored = [c for c in problem.evaluate(decoded, origin="lee") if c.valid]
            found += scored
            pool = sorted({c.expression.key(): c for c in scored + pool}.values(), key=lambda c: c.value)
            losses.append(min((c.loss for c in pool), default=float("inf")))
        self.round_losses.append(losses)
        return found


def check(config: LeeConfig | None = None) -> str | None:
    """None when onnxruntime and the model (configured or shipped) are present, else what is missing."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed (pip install onnxruntime)"
    try:
        path = (config or LeeConfig()).model_dir()
    except ModuleNotFoundError:
        return "the shipped model package symdescent_models is not installed"
    if not (path / "manifest.json").is_file():
        return (f"no exported model at {path}: {path / 'manifest.json'} is missing "
                "(train and export one: python -m symdescent_lee.export)")
    return None


LEE = PluginInfo(
    name="lee",
    description="Latent Equation Embedding: decodes formulas from data; refines by re-encoding and gradient steps on z",
    proposer=LeeProposer, refiner=LeeRefiner, config=LeeConfig, check=check,
)
