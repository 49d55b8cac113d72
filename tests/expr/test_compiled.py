"""The numba kernels agree with the numpy / scipy reference paths."""

import warnings

import numpy as np
import pytest

from symdescent.expr import compiled
from symdescent.expr.evaluate import evaluate_tokens, evaluate_with_jacobian
from symdescent.expr.expression import Expression
from symdescent.expr.fit import root_has_constant, fit_expression
from symdescent.expr.generate import GrammarSampler


def _domain_data(rng, n=48):
    """Rows that trigger every kind of domain error next to ordinary ones."""
    X = rng.uniform(-3.0, 3.0, size=(n, 3))
    X[:3] = 0.0  # log(0), x / 0, 0 ** negative
    X[3] = 1.0  # asin(1), log(1) = 0 in a denominator
    X[4, 0] = 1e200  # overflow
    X[5, 1] = -1e-200  # underflow, huge reciprocals
    X[6, 2] = 710.0  # exp overflow
    return X


def _expressions(seed, count, max_size=20):
    rng = np.random.default_rng(seed)
    sampler = GrammarSampler(n_variables=3, max_size=max_size)
    return [sampler.sample(rng) for _ in range(count)], rng


def _stable_rows(ref, ref_perturbed):
    """Rows where the reference itself is well conditioned.

    A relative perturbation of 1e-12 of the inputs changes neither the kind of
    value (finite, NaN, +inf, -inf) nor a finite value by more than 1e-8; other
    rows (sin of 1e200, tan near a pole ...) are too ill-conditioned to expect
    two libms to agree on.
    """
    def kind(v):
        return np.where(np.isfinite(v), 0, np.where(np.isnan(v), 1, np.where(v > 0, 2, 3)))

    same_kind = kind(ref) == kind(ref_perturbed)
    with np.errstate(all="ignore"):
        close = np.isclose(ref, ref_perturbed, rtol=1e-8, atol=0.0) | ~np.isfinite(ref)
    return same_kind & close


def _perturb(rng, X, c):
    return (X * (1.0 + 1e-12 * rng.standard_normal(X.shape)),
            c * (1.0 + 1e-12 * rng.standard_normal(c.shape)))


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------
def test_evaluate_matches_reference_on_random_expressions():
    exprs, rng = _expressions(0, 300)
    X = _domain_data(rng)
    compared = total = 0
    for e in exprs:
        c = np.array(e.constants)
        ref = evaluate_tokens(e.tokens, c, X)
        got = compiled.evaluate(e.tokens, c, X)
        assert got.shape == ref.shape and got.dtype == np.float64
        Xp, cp = _perturb(rng, X, c)
        stable = _stable_rows(ref, evaluate_tokens(e.tokens, cp, Xp))
        total += len(ref)
        compared += stable.sum()
        s = stable
        assert np.array_equal(np.isfinite(got[s]), np.isfinite(ref[s])), e.tokens
        assert np.array_equal(np.isnan(got[s]), np.isnan(ref[s])), e.tokens
        assert np.array_equal(np.sign(got[s & np.isinf(ref)]), np.sign(ref[s & np.isinf(ref)])), e.tokens
        fin = s & np.isfinite(ref)
        scale = np.abs(ref[np.isfinite(ref)]).max(initial=0.0)
        np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-9, atol=1e-13 * scale, err_msg=str(e.tokens))
    assert compared > 0.95 * total  # the stability filter leaves nearly everything in


def test_evaluate_domain_errors_exactly():
    X = np.array([[-1.0, 0.0], [0.0, 0.0], [4.0, 2.0], [1e300, 1e-300], [-8.0, 1.0 / 3.0]])
    cases = {
        ("sqrt", "x0"): np.sqrt,
        ("log", "x0"): np.log,
        ("asin", "x0"): np.arcsin,
        ("exp", "x0"): np.exp,
        ("div", "x1", "x0"): None,
        ("div", "x0", "x1"): None,
        ("pow", "x0", "x1"): None,
        ("mul", "x0", "x0"): None,
        ("tan", "x0"): np.tan,
    }
    for tokens in cases:
        ref = evaluate_tokens(tokens, (), X)
        got = compiled.evaluate(tokens, (), X)
        assert np.array_equal(np.isnan(got), np.isnan(ref)), tokens
        assert np.array_equal(got[~np.isnan(ref)], ref[~np.isnan(ref)]) or np.allclose(
            got[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=1e-15), tokens
    got = compiled.evaluate(("log", "x1"), (), X)
    assert got[0] == -np.inf and got[1] == -np.inf
    assert np.isnan(compiled.evaluate(("pow", "x0", "x1"), (), X)[4])  # (-8) ** (1/3)
    assert compiled.evaluate(("div", "x0", "x1"), (), X)[0] == -np.inf


def test_evaluate_scalar_only_and_variable_only_expressions():
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(compiled.evaluate(("add", "C", "pi"), (1.5,), X), np.full(3, 1.5 + np.pi))
    np.testing.assert_array_equal(compiled.evaluate(("x1",), (), X), X[:, 1])
    np.testing.assert_array_equal(compiled.evaluate(("3",), (), X), np.full(3, 3.0))
    # a CompiledProgram works as well as tokens, and an F-ordered X as well as a C-ordered one
    p = compiled.compile_program(("sub", "x1", "mul", "C", "x0"))
    np.testing.assert_array_equal(compiled.evaluate(p, [2.0], np.asfortranarray(X)), X[:, 1] - 2.0 * X[:, 0])


# ---------------------------------------------------------------------------
# Jacobian
# ---------------------------------------------------------------------------
def test_jacobian_matches_reference_on_random_expressions():
    exprs, rng = _expressions(1, 300)
    X = _domain_data(rng)
    for e in exprs:
        c = np.array(e.constants)
        f_ref, J_ref = evaluate_with_jacobian(e.tokens, c, X)
        f, J = compiled.evaluate_jacobian(e.tokens, c, X)
        assert J.shape == (len(X), e.n_constants) and f.shape == (len(X),)
        # the two kernels compute the values with the same arithmetic
        np.testing.assert_array_equal(f, compiled.evaluate(e.tokens, c, X))
        Xp, cp = _perturb(rng, X, c)
        fp, Jp = evaluate_with_jacobian(e.tokens, cp, Xp)
        rows = _stable_rows(f_ref, fp)
        for j in range(e.n_constants):
            s = rows & _stable_rows(J_ref[:, j], Jp[:, j])
            assert np.array_equal(np.isfinite(J[s, j]), np.isfinite(J_ref[s, j])), e.tokens
            fin = s & np.isfinite(J_ref[:, j])
            scale = np.abs(J_ref[np.isfinite(J_ref[:, j]), j]).max(initial=0.0)
            np.testing.assert_allclose(J[fin, j], J_ref[fin, j], rtol=1e-6, atol=1e-12 * scale,
                                       err_msg=str(e.tokens))
        fin = rows & np.isfinite(f_ref)
        np.testing.assert_allclose(f[fin], f_ref[fin], rtol=1e-9, atol=1e-13 * np.abs(f_ref[fin]).max(initial=0))


def test_jacobian_simple_forms_exactly():
    X = np.linspace(0.5, 2.0, 7)[:, None]
    x = X[:, 0]
    f, J = compiled.evaluate_jacobian(("mul", "C", "exp", "mul", "C", "x0"), [2.0, -1.5], X)
    np.testing.assert_allclose(f, 2.0 * np.exp(-1.5 * x), rtol=1e-14)
    np.testing.assert_allclose(J[:, 0], np.exp(-1.5 * x), rtol=1e-14)
    np.testing.assert_allclose(J[:, 1], 2.0 * x * np.exp(-1.5 * x), rtol=1e-14)
    f, J = compiled.evaluate_jacobian(("pow", "x0", "C"), [2.5], X)
    np.testing.assert_allclose(J[:, 0], x ** 2.5 * np.log(x), rtol=1e-13)
    f, J = compiled.evaluate_jacobian(("add", "x0", "1"), [], X)  # no constants
    assert J.shape == (7, 0)
    np.testing.assert_array_equal(f, x + 1)


# ---------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------
SKELETONS = [
    (("mul", "C", "mul", "x0", "exp", "mul", "C", "x1"), [1.7, -0.8]),
    (("sin", "add", "mul", "C", "x0", "C"), [2.1, 0.4]),
    (("mul", "C", "pow", "x0", "C"), [1.3, 2.5]),
    (("div", "exp", "mul", "C", "x0", "add", "C", "x1"), [0.7, 1.5]),
    (("log", "add", "mul", "C", "x0", "C"), [3.0, 0.5]),
    (("add", "mul", "C", "x0", "mul", "C", "cos", "mul", "C", "x1"), [0.5, -2.0, 1.3]),
    (("sqrt", "add", "mul", "C", "x0", "mul", "C", "x1"), [0.8, 2.0]),
]


@pytest.mark.parametrize("tokens, truth", SKELETONS)
def test_fit_recovers_exact_skeletons_like_scipy(tokens, truth):
    rng = np.random.default_rng(3)
    X = rng.uniform(0.5, 2.0, size=(256, 2))
    e = Expression(tokens, truth)
    use_a = not root_has_constant(e, ("mul", "div"))
    use_b = not root_has_constant(e, ("add", "sub"))
    # the data come from the skeleton with the outer terms it is fitted with
    y = (2.5 if use_a else 1.0) * compiled.evaluate(tokens, truth, X) + (-0.7 if use_b else 0.0)
    start = np.array(truth) * (1.0 + 0.2 * rng.standard_normal(len(truth)))
    c, a, b, mse, ok = compiled.fit_constants(tokens, start, X, y, use_a, use_b, 100)
    assert ok and mse < 1e-20
    assert np.all(np.isfinite(c))
    np.testing.assert_allclose(a * compiled.evaluate(tokens, c, X) + b, y, rtol=1e-9, atol=1e-9)
    ref = fit_expression(e.with_constants(start), X, y, max_nfev=100)
    assert ref.mse < 1e-20  # the scipy path reaches the same optimum
    # the mse returned is the one of the returned point
    assert mse == pytest.approx(np.mean((a * compiled.evaluate(tokens, c, X) + b - y) ** 2), rel=1e-6, abs=1e-30)


def test_fit_recovers_the_constants_themselves():
    X = np.random.default_rng(4).uniform(0.5, 2.0, size=(100, 2))
    y = 1.7 * X[:, 0] * np.exp(-0.8 * X[:, 1]) - 0.7
    c, a, b, mse, ok = compiled.fit_constants(SKELETONS[0][0], [1.0, -1.0], X, y, False, True, 100)
    np.testing.assert_allclose(c, [1.7, -0.8], rtol=1e-10)
    assert (a, round(b, 10)) == (1.0, -0.7) and ok


def test_fit_is_at_least_as_good_as_scipy_on_random_problems():
    rng = np.random.default_rng(5)
    X = rng.uniform(0.1, 3.0, size=(256, 3))
    sampler = GrammarSampler(n_variables=3, max_size=15)
    n = same_or_better = 0
    while n < 40:
        e = sampler.sample(rng)
        if not 1 <= e.n_constants <= 4:
            continue
        truth = np.array(e.constants) * (1.0 + 0.5 * rng.standard_normal(e.n_constants))
        y = compiled.evaluate(e.tokens, truth, X)
        if not np.all(np.isfinite(y)):
            continue
        y = y + 0.01 * np.std(y) * rng.standard_normal(len(y))
        use_a = not root_has_constant(e, ("mul", "div"))
        use_b = not root_has_constant(e, ("add", "sub"))
        k = e.n_constants
        _, _, _, mse, ok = compiled.fit_constants(e.tokens, e.constants, X, y, use_a, use_b, 2 * k + 6)
        ref = fit_expression(e, X, y)  # the same budget: max_nfev = 2 k + 6
        assert ok == ref.valid
        n += 1
        same_or_better += mse <= ref.mse * (1 + 1e-6) + 1e-20
    assert same_or_better >= 0.85 * n


def test_fit_is_robust_on_random_expressions():
    exprs, rng = _expressions(6, 300, max_size=25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for e in exprs:
            n = int(rng.choice([1, 2, 5, 64]))
            X = rng.uniform(-3.0, 3.0, size=(n, 3))
            X[rng.random(X.shape) < 0.1] = 0.0
            if rng.random() < 0.2:
                X *= 10.0 ** rng.integers(-200, 200)
            y = rng.standard_normal(n) * 10.0 ** rng.integers(-5, 5)
            if rng.random() < 0.1:
                y *= 1e250
            c0 = np.array(e.constants)
            if len(c0) and rng.random() < 0.1:
                c0[0] = np.nan
            use_a, use_b = bool(rng.random() < 0.7), bool(rng.random() < 0.7)
            c, a, b, mse, ok = compiled.fit_constants(e.tokens, c0, X, y, use_a, use_b, int(rng.integers(0, 30)))
            assert c.shape == c0.shape and np.all(np.isfinite(c))
            assert np.isfinite(a) and np.isfinite(b) and not np.isnan(mse)
            f = compiled.evaluate(e.tokens, c, X)
            if ok:
                assert np.all(np.isfinite(f))
                if np.all(np.isfinite(c0)) and np.all(np.isfinite(compiled.evaluate(e.tokens, c0, X))):
                    start = compiled.fit_constants(e.tokens, c0, X, y, use_a, use_b, 0)[3]
                    assert mse <= start * (1 + 1e-12) or np.isinf(start)  # never worse than the start
            else:
                assert mse == np.inf
                if np.all(np.isfinite(c0)):
                    assert not np.all(np.isfinite(compiled.evaluate(e.tokens, c0, X)))


def test_fit_without_constants_is_the_closed_form_scaling():
    X = np.linspace(1, 2, 30)[:, None]
    y = 3.0 * np.sin(X[:, 0]) + 1.0
    c, a, b, mse, ok = compiled.fit_constants(("sin", "x0"), [], X, y, True, True, 50)
    assert c.shape == (0,) and ok
    assert a == pytest.approx(3.0) and b == pytest.approx(1.0) and mse < 1e-25
    c, a, b, mse, ok = compiled.fit_constants(("sin", "x0"), [], X, y, False, False, 50)
    assert (a, b) == (1.0, 0.0) and mse == pytest.approx(np.mean((np.sin(X[:, 0]) - y) ** 2))
    # a constant f: a = 0 and b = mean(y)
    c, a, b, mse, ok = compiled.fit_constants(("3",), [], X, y, True, True, 50)
    assert a == 0.0 and b == pytest.approx(y.mean())


def test_fit_on_one_row_and_on_invalid_starts():
    X = np.array([[2.0, 3.0]])
    c, a, b, mse, ok = compiled.fit_constants(("mul", "C", "x0"), [1.0], X, np.array([5.0]), False, False, 20)
    assert ok and c[0] == pytest.approx(2.5) and mse < 1e-25
    c, a, b, mse, ok = compiled.fit_constants(("exp", "mul", "C", "x0"), [1.0], X, np.array([5.0]), True, True, 20)
    assert ok and np.isfinite(c).all() and mse == pytest.approx(0.0, abs=1e-25)
    # no finite start at all: log of a negative constant times a positive x
    c, a, b, mse, ok = compiled.fit_constants(("log", "sub", "x0", "mul", "C", "C"), [5.0, 5.0],
                                              np.array([[-1.0]]), np.array([1.0]), True, True, 20)
    assert not ok and mse == np.inf and np.all(np.isfinite(c))
    # non-finite at c0 but fine at c = 1: the fit starts there
    X = np.linspace(1, 2, 20)[:, None]
    c, a, b, mse, ok = compiled.fit_constants(("sqrt", "mul", "C", "x0"), [-2.0], X, np.sqrt(X[:, 0]), True, False, 20)
    assert ok and mse < 1e-20


def test_huge_values_give_no_warnings_and_finite_constants():
    X = np.array([[1e300, 1.0], [1e-300, 2.0], [-1e300, 3.0], [2.0, 1e308]])
    y = np.array([1e300, -1e300, 1e299, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for tokens in [("mul", "C", "x0"), ("add", "mul", "C", "x0", "mul", "C", "x1"), ("square", "x1"),
                       ("exp", "mul", "C", "x1"), ("div", "C", "x0")]:
            ref = evaluate_tokens(tokens, np.ones(tokens.count("C")), X)
            got = compiled.evaluate(tokens, np.ones(tokens.count("C")), X)
            assert np.array_equal(np.isfinite(got), np.isfinite(ref))
            c, a, b, mse, ok = compiled.fit_constants(tokens, np.ones(tokens.count("C")), X, y, True, True, 30)
            assert np.all(np.isfinite(c)) and np.isfinite(a) and np.isfinite(b)


# ---------------------------------------------------------------------------
# compiling
# ---------------------------------------------------------------------------
def test_compile_program_is_cached_and_checks_its_input():
    p = compiled.compile_program(("add", "mul", "C", "x2", "C"))
    assert compiled.compile_program(["add", "mul", "C", "x2", "C"]) is p
    assert p.n_constants == 2 and p.n_variables == 3 and p.columns.tolist() == [2] and p.depth == 3
    with pytest.raises(ValueError):
        compiled.compile_program(("add", "x0"))
    with pytest.raises(ValueError):
        compiled.compile_program(("frobnicate", "x0"))
    with pytest.raises(ValueError, match="column"):
        compiled.evaluate(p, [1.0, 2.0], np.ones((4, 2)))
    with pytest.raises(ValueError, match="constant"):
        compiled.evaluate(p, [1.0], np.ones((4, 3)))


def test_jit_falls_back_when_no_cache_directory_is_writable(monkeypatch):
    from numba.core import caching, config

    monkeypatch.setattr(config, "CACHE_LOCATOR_CLASSES", "", raising=False)
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    monkeypatch.setattr(impl, "_locator_classes", [])
    with pytest.raises(RuntimeError):  # what numba does on its own
        __import__("numba").njit(cache=True)(lambda x: x + 1)

    def twice(x):
        return 2.0 * x

    jitted = compiled.jit(twice)
    assert jitted(2.0) == 4.0
