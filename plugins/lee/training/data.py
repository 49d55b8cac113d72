"""Seeded synthetic training data for LEE (numpy only).

Each sample is a random expression over 1 to 10 variables, data sampled from
random but sensible ranges, and (for a share of samples) a corrupted copy of
the expression made with the genetic-programming mutations of the core, so
that re-encoding learns to repair candidates.  Batch ``k`` of seed ``s`` is a
pure function of ``(s, k)``: training resumes exactly.

Nothing here reads ../shared/benchmarks: the expressions come from the
grammar sampler of :mod:`symdescent.expr.generate` alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from symdescent.expr import ops
from symdescent.expr.evaluate import evaluate_tokens
from symdescent.expr.expression import Expression
from symdescent.expr.fit import strip_scaling
from symdescent.expr.generate import GrammarSampler
from symdescent.expr.variation import canonical_key, canonical_order, fold_constants, mutate
from symdescent_lee import encoding as enc
from symdescent_lee import vocab
from symdescent_lee.training.dimensional import TRANSCENDENTAL, DimensionalSampler


#: LEE's training distribution where it departs from the operator table's grammar weights
#: (:attr:`symdescent.expr.ops.Operator.weight`): fewer negations and rare functions, more products
LEE_WEIGHTS: dict[str, float] = {
    "neg": 0.5, "log": 1.5, "sin": 2.5, "cos": 2.5, "tan": 0.4, "tanh": 0.4, "asin": 0.4, "abs": 0.1,
    "add": 4.0, "mul": 7.0, "div": 5.0,
}


def vocabulary_weights(arity: int) -> dict[str, float]:
    """The training data's weight of each operator of ``arity`` in the model's vocabulary, in vocabulary order:
    :data:`LEE_WEIGHTS` where it has one, else the operator table's default grammar weight.

    >>> vocabulary_weights(2)
    {'add': 4.0, 'sub': 3.0, 'mul': 7.0, 'div': 5.0, 'pow': 1.0}
    """
    return {tok: LEE_WEIGHTS.get(tok, ops.OPERATORS[tok].weight) for tok in vocab.EXPRESSION_TOKENS
            if ops.arity(tok) == arity}


@dataclass(frozen=True)
class DataConfig:
    """Settings of the synthetic expression distribution."""

    max_ops: int = 11
    max_size: int = vocab.MAX_LEN - 2
    n_points: int = 64
    n_query: int = 32
    var_weights: tuple[float, ...] = (0.18, 0.2, 0.17, 0.13, 0.1, 0.08, 0.06, 0.04, 0.02, 0.02)
    p_candidate: float = 0.6
    max_mutations: int = 3
    p_constant: float = 0.15
    p_literal: float = 0.12
    p_symmetric_range: float = 0.25
    #: share of expressions drawn dimensionally homogeneous (:mod:`symdescent_lee.training.dimensional`)
    #: instead of from the plain grammar
    p_dimensional: float = 0.0
    #: the grammar's weight of each operator the model's vocabulary has (:func:`vocabulary_weights`); an
    #: operator outside the vocabulary is never sampled, since the model could not read or write it
    unary_weights: dict = field(default_factory=lambda: vocabulary_weights(1))
    binary_weights: dict = field(default_factory=lambda: vocabulary_weights(2))

    def __post_init__(self) -> None:
        for name in ("p_candidate", "p_constant", "p_literal", "p_symmetric_range", "p_dimensional"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"DataConfig.{name} must be a probability in [0, 1], got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _nesting_ok(tokens: tuple[str, ...]) -> bool:
    """At most two transcendental functions along any root-to-leaf path, and no
    function applied directly to itself (exp(exp), log(log), ...)."""
    pending = [(0, "")]  # (transcendental depth, parent token) per pending slot
    for tok in tokens:
        depth, parent = pending.pop()
        if tok in TRANSCENDENTAL:
            if parent == tok or depth >= 2:
                return False
            depth += 1
        for _ in range(ops.arity(tok)):
            pending.append((depth, tok))
    return True


def _has_redundant_pair(expr: Expression) -> bool:
    """True when ``+ - * /`` combine two identical subtrees (``x - x``, ``x * x``):
    forms with a shorter equivalent that the decoder should not learn."""
    toks = expr.tokens
    for i, t in enumerate(toks):
        if t in ("add", "sub", "mul", "div"):
            mid = expr.subtree_end(i + 1)
            end = expr.subtree_end(mid)
            if toks[i + 1 : mid] == toks[mid:end]:
                return True
    return False


def _relabel(expr: Expression) -> tuple[Expression, int]:
    used = expr.variables
    mapping = {f"x{old}": f"x{new}" for new, old in enumerate(used)}
    tokens = tuple(mapping.get(t, t) for t in expr.tokens)
    return Expression(tokens, expr.constants), len(used)


class SyntheticGenerator:
    """Generate training batches; ``batch(step)`` is deterministic in ``(seed, step)``."""

    def __init__(self, config: DataConfig = DataConfig(), seed: int = 0):
        self.config = config
        self.seed = seed
        self._samplers = {
            d: GrammarSampler(
                n_variables=d, max_size=config.max_size, max_depth=10, p_constant=config.p_constant,
                p_literal=config.p_literal, unary_weights=config.unary_weights,
                binary_weights=config.binary_weights,
            )
            for d in range(1, enc.MAX_VARS + 1)
        }
        w = np.asarray(config.var_weights, dtype=float)
        self._var_p = w / w.sum()
        self._dimensional = DimensionalSampler()

    # -- single expressions ------------------------------------------------
    def sample_expression(self, rng: np.random.Generator) -> tuple[Expression, int]:
        cfg = self.config
        for _ in range(100):
            d = int(rng.choice(enc.MAX_VARS, p=self._var_p)) + 1
            lo = max(1, d - 1)
            n_ops = int(rng.integers(lo, max(lo, cfg.max_ops) + 1))
            # p_dimensional = 0 draws nothing extra: older runs keep their exact data stream
            if cfg.p_dimensional > 0 and rng.random() < cfg.p_dimensional:
                toks = self._dimensional.sample_tokens(rng, d, n_ops)
            else:
                toks = self._samplers[d].sample_tokens(rng, n_ops)
            if toks is None or len(toks) > cfg.max_size:
                continue
            expr = fold_constants(Expression(tuple(toks)))
            if (not any(ops.is_variable(t) for t in expr.tokens) or not _nesting_ok(expr.tokens)
                    or _has_redundant_pair(expr)):
                continue
            expr, d_used = _relabel(expr)
            return self._with_constants(expr, rng), d_used
        return Expression(("x0",)), 1

    def _with_constants(self, expr: Expression, rng: np.random.Generator) -> Expression:
        toks = expr.tokens
        exponent_slots = set()
        for i, t in enumerate(toks):
            if t == "pow":
                j = expr.subtree_end(i + 1)
                if toks[j] == ops.CONST:
                    exponent_slots.add(toks[:j].count(ops.CONST))
        values = []
        for k in range(expr.n_constants):
            if k in exponent_slots:
                choices = (-3.0, -2.0, -1.5, -1.0, -0.5, 0.5, 1.5, 2.0, 3.0, 1 / 3)
                v = choices[rng.integers(len(choices))] if rng.random() < 0.8 else rng.uniform(-2.0, 3.0)
            else:
                v = float(rng.choice([-1.0, 1.0], p=[0.3, 0.7]) * 10 ** rng.uniform(-1.0, 1.0))
            values.append(round(float(v), 3) or 1.0)
        return expr.with_constants(values)

    def sample_ranges(self, rng: np.random.Generator, d: int) -> np.ndarray:
        ranges = np.empty((d, 2))
        for j in range(d):
            if rng.random() < self.config.p_symmetric_range:
                h = 10 ** rng.uniform(-0.5, 1.0)
                ranges[j] = (-h, h) if rng.random() < 0.6 else (-h * rng.uniform(0.1, 1.0), h)
            else:
                low = 10 ** rng.uniform(-1.0, 0.7)
                ranges[j] = (low, low * 10 ** rng.uniform(0.15, 1.0))
        return ranges

    def sample_problem(self, rng: np.random.Generator):
        """One valid (expression, X, y): y finite, not constant, of sane magnitude."""
        n = self.config.n_points + self.config.n_query
        for _ in range(200):
            expr, d = self.sample_expression(rng)
            ranges = self.sample_ranges(rng, d)
            X = rng.uniform(ranges[:, 0], ranges[:, 1], size=(n, d))
            y = evaluate_tokens(expr.tokens, expr.constants, X)
            if not np.isfinite(y).all():
                continue
            amax = np.abs(y).max()
            if amax > 1e7 or amax < 1e-6:
                continue
            if y.std() < 1e-6 * (np.abs(y).mean() + 1e-12):
                continue
            return expr, X, y, d
        raise RuntimeError("synthetic generator failed to find a valid problem in 200 tries")

    def corrupt(self, expr: Expression, d: int, rng: np.random.Generator) -> Expression:
        sampler = self._samplers[d]
        out = expr
        for _ in range(int(rng.integers(1, self.config.max_mutations + 1))):
            out = mutate(out, sampler, rng)
        if out.complexity > self.config.max_size:
            out = mutate(expr, sampler, rng, kind="point")
        return out

    # -- batches ---------------------------------------------------------------
    def batch(self, step: int, batch_size: int) -> dict[str, np.ndarray]:
        """Arrays for one training step (see :func:`assemble` for the fields)."""
        rng = np.random.default_rng([self.seed, step])
        samples = []
        seen: set[str] = set()
        while len(samples) < batch_size:
            expr, X, y, d = self.sample_problem(rng)
            target = canonical_order(strip_scaling(expr))  # one order of + and * operands
            key = canonical_key(target)
            if key in seen:
                continue
            seen.add(key)
            if rng.random() < 0.5:  # random affine change of y: the skeleton must not depend on it
                a = float(rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-1, 1))
                y = a * y + float(rng.normal()) * np.abs(y).mean()
            cand = None
            if rng.random() < self.config.p_candidate:
                cand = self.corrupt(expr, d, rng)
            samples.append((target, X, y, d, cand))
        return assemble(samples, self.config.n_points)


def assemble(samples, n_points: int) -> dict[str, np.ndarray]:
    """Encode a list of ``(target, X, y, d, candidate | None)`` into arrays.

    Returns ``points`` ``(B, n, POINT_FEATURES)`` (candidate features zero),
    ``cand_feats`` ``(B, n, CAND_FEATURES)``, ``qx`` ``(B, q, X_FEATURES)``,
    ``qy`` ``(B, q)``, ``py`` ``(B, n)`` (standardised y at the points),
    ``tgt`` and ``cand_tokens`` ``(B, MAX_LEN)`` and ``has_cand`` ``(B,)``.
    """
    B = len(samples)
    total = samples[0][1].shape[0]
    Xp = np.zeros((B, total, enc.MAX_VARS))
    Y = np.zeros((B, total))
    Yhat = np.zeros((B, n_points))
    n_vars = np.zeros(B, dtype=np.int64)
    has = np.zeros(B, dtype=bool)
    tgt = np.zeros((B, vocab.MAX_LEN), dtype=np.int64)
    ctok = np.zeros((B, vocab.MAX_LEN), dtype=np.int64)
    for b, (target, X, y, d, cand) in enumerate(samples):
        Xp[b, :, :d] = X
        Y[b] = y
        n_vars[b] = d
        tgt[b] = vocab.encode_tokens(target.tokens)
        if cand is not None:
            f = evaluate_tokens(cand.tokens, cand.constants, X[:n_points])
            if np.isfinite(f).all():
                Yhat[b] = enc.scaled_prediction(f, y[:n_points])
                has[b] = True
                ctok[b] = vocab.encode_tokens(strip_scaling(cand).tokens)
    Xe, Ye, Xq, Yq = Xp[:, :n_points], Y[:, :n_points], Xp[:, n_points:], Y[:, n_points:]
    x_mean, x_std = enc.stats(Xe, axis=1)
    y_mean, y_std = enc.stats(Ye, axis=1)
    points = np.concatenate(
        [enc.encode_x(Xe, n_vars, x_mean, x_std), enc.encode_y(Ye, y_mean, y_std),
         np.zeros((B, n_points, enc.CAND_FEATURES), dtype=np.float32)], axis=-1)
    return {
        "points": points,
        "cand_feats": enc.encode_candidate(Yhat, Ye, y_mean, y_std, has),
        "qx": enc.encode_x(Xq, n_vars, x_mean, x_std),
        "qy": enc.target_y(Yq, y_mean, y_std),
        "px": points[..., : enc.X_FEATURES],
        "py": enc.target_y(Ye, y_mean, y_std),
        "tgt": tgt,
        "cand_tokens": ctok,
        "has_cand": has,
    }
