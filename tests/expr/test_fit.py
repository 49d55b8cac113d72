import numpy as np
import pytest

from symdescent.expr import parse
from symdescent.expr.fit import fit_expression


@pytest.fixture
def X():
    return np.random.default_rng(0).uniform(1, 3, size=(200, 2))


def test_linear_scaling_is_added_only_when_needed(X):
    y = X[:, 0] * X[:, 1]
    r = fit_expression(parse("x0 * x1"), X, y)
    assert r.expression.tokens == ("mul", "x0", "x1") and r.mse < 1e-25
    r = fit_expression(parse("x0 * x1"), X, 3 * y + 2)
    assert r.expression.tokens == ("add", "mul", "C", "mul", "x0", "x1", "C")
    np.testing.assert_allclose(r.expression.constants, [3.0, 2.0])


def test_inner_constants_are_fitted(X):
    y = 2.0 * np.exp(-0.7 * X[:, 0]) + X[:, 1]
    r = fit_expression(parse("C * exp(C * x0) + x1"), X, y, max_nfev=200)
    assert r.mse < 1e-20
    np.testing.assert_allclose(sorted(r.expression.constants), [-0.7, 2.0], rtol=1e-6)


def test_invalid_expression_is_reported(X):
    r = fit_expression(parse("log(x0 - 5)"), X, X[:, 0])
    assert not r.valid and r.mse == np.inf


def test_constant_expression_fits_mean(X):
    y = X[:, 0]
    r = fit_expression(parse("pi"), X, y)
    assert r.valid
    np.testing.assert_allclose(r.expression.evaluate(X), y.mean())


def _noisy(f, scale=1.0, offset=0.0, sigma=0.01, n=750, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(n, 2))
    y = scale * f(X) + offset
    return X, y + rng.normal(0, sigma * np.sqrt(np.mean(y**2)), n)


@pytest.mark.parametrize("seed", range(5))
def test_offset_that_only_fits_noise_is_dropped(seed):
    X, y = _noisy(lambda X: X[:, 0] * X[:, 1], scale=0.25, seed=seed)
    r = fit_expression(parse("x0 * x1"), X, y)
    assert r.expression.tokens[0] == "mul", r.expression.to_infix()  # a * f, no "+ b"
    assert r.expression.complexity == 5


def test_offset_that_the_data_needs_is_kept():
    X, y = _noisy(lambda X: X[:, 0] * X[:, 1], scale=0.25, offset=0.5)
    r = fit_expression(parse("x0 * x1"), X, y)
    assert r.expression.tokens[0] == "add"
    assert abs(r.expression.constants[-1] - 0.5) < 0.1


def test_noiseless_small_offset_is_kept():
    X, y = _noisy(lambda X: X[:, 0] * X[:, 1], offset=1e-4, sigma=0.0)
    r = fit_expression(parse("x0 * x1"), X, y)
    assert r.expression.tokens[0] == "add" and r.mse < 1e-20


def test_snap_under_noise_and_not_without_it():
    from symdescent.expr.fit import snap_constants

    X, y = _noisy(lambda X: X[:, 0] / X[:, 1] ** 2, scale=1 / (4 * np.pi))
    r = fit_expression(parse("x0 / x1**2"), X, y)
    assert r.expression.constants[0] != pytest.approx(1 / (4 * np.pi), rel=1e-6)
    snapped = snap_constants(r.expression, X, y)
    assert snapped.constants[0] == pytest.approx(1 / (4 * np.pi), rel=1e-12)
    # noiseless data from a constant 0.5 % off 1/(4 pi): no snap
    X, y = _noisy(lambda X: X[:, 0] / X[:, 1] ** 2, scale=1.005 / (4 * np.pi), sigma=0.0)
    r = fit_expression(parse("x0 / x1**2"), X, y)
    assert snap_constants(r.expression, X, y).constants == r.expression.constants


def _redundant():
    """3*x0/(x1 + 1) written with three constants the data cannot tell apart, fitted exactly."""
    from symdescent.expr.fit import FitResult, expression_mse

    X = np.random.default_rng(3).uniform(0.5, 4, size=(300, 2))
    y = 3 * X[:, 0] / (X[:, 1] + 1)
    e = parse("-9636.806*x0/(-3212.2687*x1 - 3212.2687)")
    return X, y, FitResult(e, expression_mse(e, X, y), True)


def test_polish_is_one_call_from_fit_to_readable_constants():
    from symdescent.expr.fit import polish

    X, y, start = _redundant()
    seen = []
    out = polish(start, X, y, accept=lambda r: seen.append(r.expression.n_constants) or r.valid)
    assert out.expression.to_infix() == "3.0 * x0 / (x1 + 1)" and out.valid and out.mse < 1e-25
    assert seen == [3, 1]  # accept judged the refit (still three constants), then the normalised, snapped form


def test_polish_keeps_the_fit_its_caller_does_not_accept():
    from symdescent.expr.fit import polish

    X, y, start = _redundant()
    assert polish(start, X, y, accept=lambda r: False) is start  # the very object: nothing changed
    # a normalised form the caller cannot use (say, an operator it does not allow) is not snapped either
    kept = polish(start, X, y, admissible=lambda e: e.n_constants == 3)
    assert kept.expression.n_constants == 3


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_compiled_choice_of_outer_terms_agrees_with_the_reference_path(monkeypatch, noise):
    """The search's compiled fit-and-choose keeps the same outer terms as the numpy reference path (which fits
    expressions without a compiled form), at the same loss, on formulas that need a, b, both or neither."""
    from symdescent.expr import fit
    from symdescent.expr.generate import GrammarSampler

    rng = np.random.default_rng(7)
    X = rng.uniform(0.5, 2.5, size=(200, 2))
    sampler = GrammarSampler(2, max_size=9)
    # f not constant: for a constant f the compiled fit keeps plain terms where they fit (y = pi stays the
    # literal pi, x0 - x0 stays; the reference path gives a fitted constant), by the rule of lm._fit_scale
    with np.errstate(all="ignore"):
        exprs = [e for e in (sampler.sample(rng) for _ in range(100)) if np.ptp(fit.evaluate(e, X)) > 0][:60]
    compiled_results = []
    for e in exprs:
        a, b = rng.choice([1.0, 2.5]), rng.choice([0.0, -1.5])
        y = a * fit.evaluate(e, X) + b
        y = y + noise * np.std(y) * rng.normal(size=len(y)) if np.isfinite(y).all() else y
        compiled_results.append((e, y, fit.fit_expression(e, X, y, optimize=False)))
    monkeypatch.setattr(fit, "_program", lambda expr: None)  # the reference path from here on
    checked = 0
    for e, y, got in compiled_results:
        if not np.isfinite(y).all():
            continue
        ref = fit.fit_expression(e, X, y, optimize=False)
        assert got.valid == ref.valid, e
        if ref.valid:
            assert got.expression.tokens == ref.expression.tokens, (e, got.expression, ref.expression)
            assert got.mse == pytest.approx(ref.mse, rel=1e-7, abs=1e-12 * float(np.mean(y ** 2)) + 1e-300)
            checked += 1
    assert checked >= 30


def test_without_fitting_the_constants_stay_as_they_are(X):
    """optimize=False takes the constants as given: where f is not finite there it is invalid (the fit's other
    starting points are for fitting only)."""
    e = parse("log(-1.0 * x0)")
    assert not fit_expression(e, X, np.log(X[:, 0]), optimize=False).valid
    assert fit_expression(e, X, np.log(X[:, 0])).valid  # fitting may start elsewhere
    kept = fit_expression(parse("sin(2.0 * x0)"), X, 3 * np.sin(2 * X[:, 0]), optimize=False)
    assert kept.valid and kept.expression.constants[-1] == 2.0 and kept.mse < 1e-20


@pytest.mark.parametrize("weighted", [False, True])
def test_the_scoring_rows_loss_is_the_loss_of_the_returned_model_there(weighted):
    """``score=``: the loss on other rows, computed in the fit's compiled call, is bit for bit the loss of the
    returned expression there (as :func:`expression_mse` computes it), for scaled, offset and constant models;
    inf where the model is not finite on those rows."""
    from symdescent.expr.fit import expression_mse

    rng = np.random.default_rng(3)
    X = rng.uniform(1, 3, size=(400, 2))
    Xs = rng.uniform(1, 3, size=(900, 2))
    w = rng.uniform(0.5, 2.0, size=400) if weighted else None
    ws = rng.uniform(0.5, 2.0, size=900) if weighted else None
    kinds = set()
    for text, target in [("sin(1.3 * x0)", lambda X: 2.5 * np.sin(1.3 * X[:, 0]) - 1.0),
                         ("exp(-0.7 * x1) * x0", lambda X: np.exp(-0.7 * X[:, 1]) * X[:, 0] + 0.3),
                         ("x0 * x1", lambda X: 3.0 * X[:, 0] * X[:, 1]),
                         ("x0 - x0", lambda X: 2.0 + 0 * X[:, 0]),
                         ("sqrt(x1 - 1.0)", lambda X: np.sqrt(X[:, 1] - 1.0))]:
        e = parse(text)
        res = fit_expression(e, X, target(X), sample_weight=w, score=(Xs, target(Xs), ws))
        assert res.valid
        assert res.score_mse == expression_mse(res.expression, Xs, target(Xs), ws), text
        kinds.add(res.expression.tokens[0])
    assert {"add", "mul"} <= kinds  # offset and scale were both exercised
    # finite on the fitting rows, not on the scoring rows: inf, as expression_mse says
    e = parse("sqrt(x0 - 1.0)")
    res = fit_expression(e, X, np.sqrt(X[:, 0] - 1.0), score=(Xs - 2.0, np.zeros(900), None))
    assert res.valid and res.score_mse == np.inf == expression_mse(res.expression, Xs - 2.0, np.zeros(900))
    assert fit_expression(e, X, np.sqrt(X[:, 0] - 1.0)).score_mse is None  # without scoring rows


def test_a_fit_above_its_give_up_level_stops_after_its_probe():
    """``give_up``: a fit whose loss is still above the level once its probe (k + 2 trial steps) is spent stops
    there, says so, and costs fewer trials than the full fit; a reachable level (or none) changes nothing."""
    from symdescent.expr import compiled

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(256, 2))
    y = 2.0 * np.exp(-1.7 * X[:, 0]) * np.sin(2.3 * X[:, 1]) + 0.5
    e = parse("exp(0.1 * x0) * sin(0.5 * x1)")  # far from the truth at the start: the fit takes many trials
    full = fit_expression(e, X, y, max_nfev=60)
    assert not full.abandoned and full.mse < 1e-20
    stopped = fit_expression(e, X, y, max_nfev=60, give_up=1e-30)
    assert stopped.abandoned and stopped.valid and stopped.mse > full.mse
    assert fit_expression(e, X, y, max_nfev=60, give_up=1e3).expression == full.expression
    # the kernel's own count: the probe, not the budget
    p = compiled.compile_program(e.tokens)
    from symdescent.expr.compiled import lm

    c0 = np.asarray(e.constants)
    runs = {g: lm._fit_kernel(p.code, p.arg, p.value, p.columns, p.depth, c0, X, y, True, True, 60, lm._NO_WEIGHTS,
                              g, 4) for g in (np.inf, 1e-30)}
    assert runs[1e-30][7] == lm._STOP_HOPELESS and runs[np.inf][7] != lm._STOP_HOPELESS
    assert runs[1e-30][5] + runs[1e-30][6] < runs[np.inf][5] + runs[np.inf][6]  # fewer evaluations
    assert runs[1e-30][5] <= 4 + 2  # the start, the probe's trials (one f each) and no more
