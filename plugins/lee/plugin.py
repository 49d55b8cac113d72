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

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symdescent.errors import ConfigError, DataError
from symdescent.expr import Expression, ops
from symdescent.registry import PluginContext, PluginInfo
from symdescent.roles import Proposer, Refiner


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


log = logging.getLogger("symdescent.lee")


@dataclass(frozen=True)
class ProblemView:
    """The columns of a problem that LEE sees, and the way back to the problem's variables.

    The model takes at most ``MAX_VARS`` inputs and learns nothing from a
    constant column, so it sees the varying columns, or, when there are more
    of them than it takes, the most relevant ones by the problem's shared
    variable selection (:meth:`symdescent.types.Problem.relevant_features`).
    Its formulas over ``x0..x{k-1}`` are rewritten over the problem's columns;
    the search's other strategies still see every column.
    """

    columns: tuple[int, ...]
    n_features: int

    @classmethod
    def of(cls, problem) -> "ProblemView":
        from symdescent_lee.encoding import MAX_VARS

        varying = tuple(int(i) for i in np.flatnonzero(np.ptp(problem.X, axis=0) > 0))
        columns = problem.relevant_features(MAX_VARS) if len(varying) > MAX_VARS else varying
        return cls(columns, problem.n_features)

    @property
    def identity(self) -> bool:
        return self.columns == tuple(range(self.n_features))

    def X(self, problem) -> np.ndarray:
        return problem.X if self.identity else problem.X[:, self.columns]

    def to_problem(self, expr: Expression) -> Expression:
        """A formula over the view's columns, rewritten over the problem's."""
        if self.identity:
            return expr
        cols = self.columns
        return Expression(tuple(f"x{cols[ops.variable_index(t)]}" if ops.is_variable(t) else t for t in expr.tokens),
                          expr.constants)

    def to_view(self, expr: Expression) -> Expression | None:
        """A formula over the problem's columns, over the view's; None if it uses a column outside it."""
        if self.identity:
            return expr
        local = {c: i for i, c in enumerate(self.columns)}
        if not set(expr.variables) <= local.keys():
            return None
        return Expression(tuple(f"x{local[ops.variable_index(t)]}" if ops.is_variable(t) else t for t in expr.tokens),
                          expr.constants)


def _view(ctx: PluginContext, problem) -> ProblemView | None:
    """The search's view for LEE (shared by proposer and refiner); None when LEE steps aside.

    LEE is never the reason a fit fails: on input it cannot take it says so in
    one line and the search goes on without it.
    """
    if "view" not in ctx.shared:
        from symdescent_lee.encoding import MAX_VARS

        view = ProblemView.of(problem)
        if not view.columns:
            log.warning("LEE steps aside: every column of X is constant; the search goes on without it")
            view = None
        elif len(view.columns) < problem.n_features:
            dropped = problem.n_features - len(view.columns)
            names = ", ".join(problem.variable_names[i] for i in view.columns)
            why = f"takes at most {MAX_VARS} variables" if len(view.columns) == MAX_VARS else "ignores constant columns"
            log.warning(f"LEE {why}: it proposes over {names} ({dropped} of {problem.n_features} columns left to "
                        "the other strategies)")
        ctx.shared["view"] = view
    return ctx.shared["view"]


def by_dimensions(problem, expressions: list) -> list:
    """The decoded formulas as the search's units allow: without units all of them; with ``dimensional =
    "strict"`` only the dimensionally consistent ones (the others would be refused unfitted); with
    ``"penalty"`` all of them, the consistent ones first (stable), so that they come first wherever the
    search takes only some."""
    if problem.dimensional == "off":
        return expressions
    violations = [problem.dimension_violations(e) for e in expressions]
    if problem.dimensional == "strict":
        return [e for e, v in zip(expressions, violations) if v == 0]
    return [e for _, e in sorted(zip(violations, expressions), key=lambda t: t[0] > 0)]


class LeeProposer(Proposer):
    """Decodes candidate skeletons from the data alone."""

    def __init__(self, ctx: PluginContext):
        self.ctx = ctx
        self.cfg: LeeConfig = ctx.config or LeeConfig()
        self.rng = ctx.rng
        self.calls = 0
        self.z0 = None

    def start(self, problem, state):
        self.view = _view(self.ctx, problem)
        if self.view is None:
            return
        self.rt = _runtime(self.ctx)
        try:
            self.z0 = self.rt.encode(self.view.X(problem), problem.y)
        except DataError as exc:
            log.warning(f"LEE steps aside: {exc}; the search goes on without it")
            self.view = self.ctx.shared["view"] = None

    def propose(self, problem, state):
        if self.view is None:
            return []
        rt, cfg = self.rt, self.cfg
        kw = dict(n_vars=len(self.view.columns), operators=problem.operators,
                  max_tokens=min(problem.max_complexity, 31))
        out = []
        if self.calls == 0 and cfg.beam_width:
            out += [p.expression for p in rt.beam(self.z0, cfg.beam_width, **kw)]
        temperature = cfg.temperature * (1.0 + 0.25 * min(self.calls, 4))
        n = cfg.first_samples if self.calls == 0 else cfg.samples
        out += [p.expression for p in rt.sample(self.z0, n, temperature, self.rng, **kw)]
        self.calls += 1
        return by_dimensions(problem, [self.view.to_problem(e) for e in out])


class LeeRefiner(Refiner):
    """Re-encodes the best candidates with the data, steps ``z`` down the fit loss, decodes again."""

    def __init__(self, ctx: PluginContext):
        self.ctx = ctx
        self.cfg: LeeConfig = ctx.config or LeeConfig()
        self.rng = ctx.rng
        #: lowest loss in the pool after each round of each call (round 0: the
        #: candidates handed in): how much each round helps
        self.round_losses: list[list[float]] = []

    def start(self, problem, state):
        self.view = _view(self.ctx, problem)
        if self.view is not None:
            self.rt = _runtime(self.ctx)

    def refine(self, problem, candidates, state):
        view = self.ctx.shared.get("view")  # None also when the proposer stepped aside after the start
        if view is None:
            return []
        cfg, rt = self.cfg, self.rt
        kw = dict(n_vars=len(view.columns), operators=problem.operators,
                  max_tokens=min(problem.max_complexity, 31))
        X = view.X(problem)
        # only candidates over the columns LEE sees can be re-encoded
        pool = sorted((c for c in candidates if c.valid and view.to_view(c.expression) is not None),
                      key=lambda c: c.value)
        found = []
        losses = [min(c.loss for c in pool)] if pool else []
        for _ in range(cfg.refine_iterations):
            if not pool or time.monotonic() >= state.deadline:
                break
            seeds = pool[: cfg.refine_candidates]
            z = rt.encode(X, problem.y, [view.to_view(c.expression) for c in seeds])
            if cfg.gradient_steps:
                z, _ = rt.refine_z(z, X, problem.y, steps=cfg.gradient_steps, step_size=cfg.step_size,
                                   n_query=cfg.query_points)
            decoded = by_dimensions(problem, [view.to_problem(p.expression)
                                              for p in rt.sample(z, cfg.refine_samples, cfg.temperature, self.rng, **kw)])
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
                "(train and export one: python -m symdescent_lee.training.export)")
    return None


LEE = PluginInfo(
    name="lee",
    description="Latent Equation Embedding: decodes formulas from data; refines by re-encoding and gradient steps on z",
    proposer=LeeProposer, refiner=LeeRefiner, config=LeeConfig, check=check,
)
