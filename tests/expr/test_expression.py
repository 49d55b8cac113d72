import json
import gc
import signal
import types
import weakref
import warnings

import numpy as np
import pytest
import sympy

from symdescent.errors import ExpressionError
from symdescent.expr import Expression, parse
from symdescent.expr.evaluate import is_valid
from symdescent.expr.sympy_bridge import from_sympy, simplify
from symdescent.expr.variation import canonical_key, crossover, fold_constants, mutate
from symdescent.expr.generate import GrammarSampler


def test_complexity_is_node_count():
    assert parse("m * v**2 / 2", ["m", "v"]).complexity == 7
    assert parse("x0").complexity == 1


@pytest.mark.parametrize("tokens, msg", [
    ((), "empty"),
    (("add", "x0"), "incomplete"),
    (("x0", "x1"), "extra tokens"),
    (("foo",), "unknown token"),
])
def test_invalid_prefix(tokens, msg):
    with pytest.raises(ExpressionError, match=msg):
        Expression(tokens)


def test_constant_count_must_match():
    with pytest.raises(ExpressionError, match="2 constant placeholder"):
        Expression(("add", "C", "C"), (1.0,))


def test_subtree_replace():
    e = parse("sin(x0) + x1 * C")
    assert e.subtree(1).to_infix() == "sin(x0)"
    r = e.replace(4, parse("cos(x1)"))
    assert r.to_infix() == "sin(x0) + cos(x1) * 1.0"


def test_evaluation_domain_errors_are_silent_and_invalid():
    X = np.array([[-1.0, 0.0], [2.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = parse("log(x0) + x0 / x1 + sqrt(x0) + asin(x0)").evaluate(X)
    assert not is_valid(out)
    assert np.isnan(out).all()
    assert is_valid(parse("x0 * x1").evaluate(X))


def test_evaluation_of_constant_expression_broadcasts():
    out = parse("2 * pi").evaluate(np.zeros((3, 1)))
    np.testing.assert_allclose(out, 2 * np.pi * np.ones(3))


def test_sympy_round_trip():
    names = ["m", "v", "theta"]
    e = parse("m * square(v) * sin(theta) / 2 - sqrt(m)", names)
    s = e.to_sympy(names)
    m, v, theta = sympy.symbols("m v theta", real=True)
    assert sympy.simplify(s - (m * v**2 * sympy.sin(theta) / 2 - sympy.sqrt(m))) == 0
    back = from_sympy(s, names)
    X = np.random.default_rng(1).uniform(0.5, 2, size=(30, 3))
    np.testing.assert_allclose(back.evaluate(X), e.evaluate(X))


def test_from_sympy_rejects_foreign_functions():
    x = sympy.Symbol("x0")
    with pytest.raises(ExpressionError, match="outside the vocabulary"):
        from_sympy(sympy.gamma(x))


def test_simplify_shrinks():
    e = parse("x0 * x1 + x1 * x0")
    s = simplify(e)
    assert s.complexity < e.complexity
    X = np.random.default_rng(0).uniform(1, 2, size=(10, 2))
    np.testing.assert_allclose(s.evaluate(X), e.evaluate(X))


def test_json_round_trip():
    e = parse("2.5 * exp(-x0) + x1")
    back = Expression.from_json(e.to_json(["a", "b"]))
    assert back == e
    assert json.loads(e.to_json())["infix"] == e.to_infix()
    with pytest.raises(ExpressionError):
        Expression.from_json("[1, 2]")
    with pytest.raises(ExpressionError):
        Expression.from_json("{not json")


def test_latex_and_callable():
    e = parse("x0**2 / 2")
    assert "frac" in e.to_latex(["v"])
    f = e.to_callable()
    np.testing.assert_allclose(f(np.array([[2.0], [4.0]])), [2.0, 8.0])


def test_fold_constants():
    e = fold_constants(parse("x0 * sqrt(2 * pi) + C * C"))
    assert e.tokens == ("add", "mul", "x0", "C", "C")
    np.testing.assert_allclose(e.constants[0], np.sqrt(2 * np.pi))


def test_canonical_key_ignores_order_and_values():
    assert canonical_key(parse("x1 * x0 + 2.5")) == canonical_key(parse("1.0 + x0 * x1"))
    assert canonical_key(parse("x0 - x1")) != canonical_key(parse("x1 - x0"))


def test_variation_stays_valid_and_bounded():
    rng = np.random.default_rng(0)
    s = GrammarSampler(n_variables=3, max_size=12)
    pop = [s.sample(rng) for _ in range(50)]
    for i in range(500):
        a = pop[i % 50]
        child = mutate(a, s, rng) if i % 2 else crossover(a, pop[(i * 7) % 50], rng)
        assert isinstance(child, Expression)
        assert all(v < 3 for v in child.variables)


def test_sampler_respects_limits_and_operators():
    rng = np.random.default_rng(0)
    s = GrammarSampler(n_variables=2, operators=("add", "mul"), max_size=9, max_depth=4)
    for _ in range(300):
        e = s.sample(rng)
        assert e.complexity <= 9 and e.depth() <= 4
        assert set(e.tokens) <= {"add", "mul", "x0", "x1", "C", "1", "2", "3", "pi"}


def _in_thread(fn):
    import threading

    out = {}
    th = threading.Thread(target=lambda: out.setdefault("r", fn()))
    th.start()
    th.join(30)
    assert not th.is_alive()
    return out["r"]


def test_simplify_off_the_main_thread_is_bounded(monkeypatch):
    """No SIGALRM outside the main thread (Dask workers, web servers): only rewrites
    that cannot run away; ``cancel`` (a polynomial GCD) only on small, integer-power
    expressions, with floats as symbols."""
    import sympy

    calls = []
    real_cancel = sympy.cancel

    def spy(e, *a, **k):
        calls.append(e)
        assert not e.atoms(sympy.Float)  # floats were replaced by symbols
        return real_cancel(e, *a, **k)

    monkeypatch.setattr(sympy, "cancel", spy)
    small = _in_thread(lambda: simplify(parse("(0.5 * x0 * x1 + 0.5 * x0) / x0"), timeout=1.0))
    assert len(calls) == 1 and small.complexity < 9
    calls.clear()
    frac = parse("x0 ** 0.5016 * (x1 * x2 + x2) / (x1 + 1)")  # fractional power: no cancel
    _in_thread(lambda: simplify(frac, timeout=1.0))
    assert calls == []
    wide = parse("(x0 * x6 + x1 + x2 + x3 + x4 + x5) / (x0 + x1 + x2 + x3 + x4 + x5 + x6)")
    _in_thread(lambda: simplify(wide, timeout=1.0))
    assert calls == []  # seven variables: no cancel


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no SIGALRM time limits on this platform")
def test_time_limit_is_not_swallowed_by_garbage_collector_callbacks():
    from symdescent.expr.sympy_bridge import call_with_time_limit

    def frame_in(filename, name):
        return types.SimpleNamespace(f_code=types.SimpleNamespace(co_filename=filename, co_name=name))

    def hook(phase, info):
        pass

    def inside_the_limit():
        handler = signal.getsignal(signal.SIGALRM)
        # an exception raised in a weakref callback or __del__ would be "ignored": the handler waits for the next alarm
        assert handler(signal.SIGALRM, frame_in(weakref.__file__, "remove")) is None
        assert handler(signal.SIGALRM, frame_in(__file__, "__del__")) is None
        # ... or in a gc.callbacks hook (Dask's client has one), however deep below it the alarm lands
        gc.callbacks.append(hook)
        try:
            below = types.SimpleNamespace(f_code=frame_in(__file__, "helper").f_code,
                                          f_back=types.SimpleNamespace(f_code=hook.__code__, f_back=None))
            assert handler(signal.SIGALRM, below) is None
        finally:
            gc.callbacks.remove(hook)
        assert signal.getitimer(signal.ITIMER_REAL)[1] > 0  # ... which repeats until the limit is lifted
        handler(signal.SIGALRM, frame_in(__file__, "simplify"))  # anywhere else it raises

    with pytest.raises(TimeoutError, match="inside_the_limit ran past its time limit of 30 s"):
        call_with_time_limit(inside_the_limit, timeout=30)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no SIGALRM time limits on this platform")
def test_time_limited_calls_in_process():
    """In the main thread a SIGALRM timer stops the call; elsewhere the unlimited variant runs."""
    import time

    from symdescent.expr.sympy_bridge import call_with_time_limit

    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        call_with_time_limit(time.sleep, 20, timeout=0.1)
    assert time.monotonic() - t0 < 5 and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert call_with_time_limit(max, 2, 3, timeout=1, without_limit=min) == 3
    assert _in_thread(lambda: call_with_time_limit(max, 2, 3, timeout=1, without_limit=min)) == 2
    assert _in_thread(lambda: call_with_time_limit(max, 2, 3, timeout=1)) == 3  # fn itself, without a limit
    assert call_with_time_limit(max, 2, 3, timeout=0, without_limit=min) == 2  # no limit asked for


def test_time_limited_calls_in_a_child_process(monkeypatch):
    """isolate=True: the call runs in a child process, from any thread; its failure and its overrun are named."""
    import math
    import time

    from symdescent.expr import sympy_bridge
    from symdescent.expr.sympy_bridge import call_with_time_limit

    x = sympy.Symbol("x")
    got = _in_thread(lambda: call_with_time_limit(sympy.simplify, sympy.sin(x) ** 2 + sympy.cos(x) ** 2,
                                                  timeout=10, isolate=True))
    assert got == 1
    with pytest.raises(RuntimeError, match="sqrt failed in a child process: ValueError: math domain error"):
        call_with_time_limit(math.sqrt, -1.0, timeout=10, isolate=True)
    monkeypatch.setattr(sympy_bridge, "CHILD_STARTUP_S", 0.0)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="child process killed"):
        call_with_time_limit(time.sleep, 30, timeout=0.2, isolate=True)
    assert time.monotonic() - t0 < 10
