"""The dimensionally homogeneous expression sampler of LEE's training data."""

import numpy as np
import pytest

from symdescent.expr import ops
from symdescent_lee.training.data import DataConfig, SyntheticGenerator
from symdescent_lee.training.dimensional import TRANSCENDENTAL, DimensionalSampler, cancels


def dimension_of(tokens, dims):
    """An independent check: the dimension of a prefix expression, or an AssertionError where it is inhomogeneous."""
    it = iter(tokens)

    def node():
        t = next(it)
        if ops.is_variable(t):
            return np.array(dims[int(t[1:])])
        if ops.arity(t) == 0:  # constant placeholder or literal
            return np.zeros(3)
        if ops.arity(t) == 1:
            a = node()
            if t in TRANSCENDENTAL:
                assert not a.any(), f"{t} of a quantity with a dimension"
                return a
            return {"square": 2 * a, "cube": 3 * a, "sqrt": a / 2}.get(t, a)
        a, b = node(), node()
        if t in ("add", "sub"):
            assert np.array_equal(a, b), f"{t} of different dimensions {a} and {b}"
            return a
        if t == "pow":
            assert not a.any(), "pow of a quantity with a dimension"
            return a
        return a + b if t == "mul" else a - b

    out = node()
    assert next(it, None) is None, "tokens left after a complete tree"
    return out


def test_samples_are_dimensionally_homogeneous_and_complete():
    s, rng = DimensionalSampler(), np.random.default_rng(0)
    n_ok = 0
    for i in range(400):
        n_vars, n_ops = 1 + i % 7, 1 + i % 11
        draw = s.sample(rng, n_vars, n_ops)
        if draw is None:
            continue
        n_ok += 1
        tokens, dims, target = draw
        assert len(dims) == n_vars
        assert sum(ops.arity(t) != 0 for t in tokens) == n_ops
        assert np.array_equal(dimension_of(tokens, dims), target)
        assert any(ops.is_variable(t) for t in tokens)
        assert not cancels(tokens)
    assert n_ok > 250  # most draws close


def test_sampler_is_deterministic_given_the_generator():
    a = [DimensionalSampler().sample_tokens(np.random.default_rng([3, k]), 4, 6) for k in range(20)]
    b = [DimensionalSampler().sample_tokens(np.random.default_rng([3, k]), 4, 6) for k in range(20)]
    assert a == b


@pytest.mark.parametrize("tokens, expected", [
    (["div", "mul", "x1", "x0", "x1"], True),              # x1*x0/x1
    (["sub", "add", "x0", "x1", "x0"], True),              # x0 + x1 - x0
    (["mul", "x0", "div", "x1", "x0"], True),              # x0*(x1/x0)
    (["div", "mul", "x0", "x1", "x2"], False),             # x0*x1/x2
    (["add", "mul", "C", "x0", "x1"], False),
    (["mul", "x0", "x0"], False),                          # a square, not a cancellation
])
def test_cancellation_filter(tokens, expected):
    assert cancels(tokens) is expected


def test_plain_stream_never_touches_the_dimensional_sampler():
    """p_dimensional = 0 (the default) keeps older runs' data stream exactly: no extra draws."""
    gen = SyntheticGenerator(DataConfig(n_points=16, n_query=8), seed=5)

    class Forbidden:
        def sample_tokens(self, *a, **k):
            raise AssertionError("dimensional sampler used with p_dimensional = 0")

    gen._dimensional = Forbidden()
    first = gen.batch(0, 8)
    again = SyntheticGenerator(DataConfig(n_points=16, n_query=8), seed=5).batch(0, 8)
    assert all(np.array_equal(first[k], again[k]) for k in first)


def test_mixed_stream_draws_dimensional_expressions():
    cfg = DataConfig(n_points=16, n_query=8, p_dimensional=1.0)
    gen = SyntheticGenerator(cfg, seed=5)
    calls = []
    orig = gen._dimensional.sample_tokens
    gen._dimensional.sample_tokens = lambda *a, **k: calls.append(1) or orig(*a, **k)
    batch = gen.batch(0, 8)
    assert len(calls) >= 8 and batch["tgt"].shape[0] == 8


def test_data_config_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="p_dimensional"):
        DataConfig(p_dimensional=1.5)
