"""Benchmark metrics, as SRBench defines them.

* **test R²** of the method's own predictions on the held-out rows;
* **accuracy solution**: test R² > 0.999;
* **symbolic solution**: after the model's float constants are rationalised
  (small fractions, optionally times or over pi), ``model - truth``
  simplifies to a constant, or ``model / truth`` to a non-zero constant
  (for an accurate model also after the domain power rules below);
* **complexity**: the node count of the simplified model, counting sympy
  nodes in a preorder traversal.

Symbols are positive (Feynman ranges are), so ``sqrt(x**2)`` simplifies.
Positivity of the symbols alone does not tell sympy that ``c - v`` is
positive, so ``m*sqrt(c/(c - v**2/c))`` would not be recognised as
``m/sqrt(1 - v**2/c**2)``.  For a model that is *accurate* on the test data
(R² > 0.999, the caller says so) one more step applies the power rules that
hold wherever the radicands are non-negative, ``sqrt(a)*sqrt(b) = sqrt(a*b)``
and ``(a**p)**q = a**(p*q)`` (sympy's ``force=True``), to the ratio of model
and truth: an identity that needs them holds on the data's domain, and the
accuracy guard rules out a model that agrees with the truth on only part of
it (``|x1 - x2|`` for ``x1 - x2`` with both signs in the data).

sympy's ``simplify`` can run for minutes and only a SIGALRM timer (main
thread only) can stop it from inside.  Benchmark runs execute in Dask worker
threads, so :func:`check_model` runs the check in a child Python process
(:func:`~symdescent.expr.sympy_bridge.call_with_time_limit` with
``isolate=True``, the one owner of time-limited sympy calls): there the
in-process limits of :func:`~symdescent.expr.sympy_bridge.simplify_sympy`
apply to each step, and the child is killed if even that overruns.

Examples
--------
>>> import sympy
>>> m, v = sympy.symbols("m v", positive=True)
>>> check_symbolic(0.5 * m * v**2, m * v**2 / 2, timeout=10).symbolic
True
>>> complexity(m * v**2 / 2)
6
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

ACCURACY_THRESHOLD = 0.999
RATIONAL_RTOL = 1e-5


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination; ``-inf`` when a prediction is not finite.

    >>> r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    1.0
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float).reshape(-1)
    if y_pred.shape != y_true.shape or not np.all(np.isfinite(y_pred)):
        return float("-inf")
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    ss_tot = float(np.sum((y_true - np.mean(y_true)) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else float("-inf")
    return 1.0 - ss_res / ss_tot


def accuracy_solution(r2: float, threshold: float = ACCURACY_THRESHOLD) -> bool:
    """SRBench's accuracy solution: test R² above ``threshold`` (0.999)."""
    return bool(math.isfinite(r2) and r2 > threshold)


def complexity(sexpr) -> int:
    """Node count of a sympy expression (preorder traversal, as SRBench counts).

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> complexity(sympy.sin(x) + 1)
    4
    """
    import sympy

    return sum(1 for _ in sympy.preorder_traversal(sexpr))


def to_positive(sexpr):
    """Replace every symbol by a positive symbol of the same name."""
    import sympy

    reps = {s: sympy.Symbol(s.name, positive=True) for s in sexpr.free_symbols if isinstance(s, sympy.Symbol)}
    return sexpr.xreplace(reps)


def nice_number(value: float, rtol: float = RATIONAL_RTOL):
    """The simplest exact number within ``rtol`` of ``value``, or None.

    The candidates are those that snapping and printing use
    (:func:`symdescent.expr.fit.simple_forms`: ``p/q``, ``p/q·pi**±1`` and
    ``p/q·pi**±2`` with ``q <= 12`` and ``|p| <= 1000``, ``<= 16`` beside
    pi, through :func:`symdescent.expr.sympy_bridge.simple_number`), so the
    check and the models agree on what is nice.  Like sympy's
    ``nsimplify`` with a tolerance and ``pi`` as a constant, but bounded:
    sympy's version turns an arbitrary float into a sum of rationals and
    multiples of pi, and a loose bound here would make about one random float
    in five "nice".

    >>> nice_number(0.0795775)
    1/(4*pi)
    >>> nice_number(0.123456789) is None
    True
    """
    import sympy

    from symdescent.expr.sympy_bridge import simple_number

    if value == 0:
        return sympy.Integer(0)
    return simple_number(value, rtol)


def rationalize(sexpr, rtol: float = RATIONAL_RTOL):
    """Replace the Floats of ``sexpr`` that are close to simple numbers by those numbers."""
    import sympy

    reps = {}
    for f in sexpr.atoms(sympy.Float):
        nice = nice_number(float(f), rtol)
        if nice is not None:
            reps[f] = nice
    return sexpr.xreplace(reps) if reps else sexpr


@dataclasses.dataclass(frozen=True)
class SymbolicCheck:
    """The symbolic part of a run's metrics.

    Attributes
    ----------
    symbolic : bool or None
        Symbolic solution: the difference to the truth is a constant, or the
        ratio a non-zero constant (for an accurate model, also after the
        domain power rules of the module docstring); None without a truth
        (a real table: only the model is simplified, for its complexity).
    complexity : int
        Node count of the simplified model (the rationalised form counts only
        where it is shorter: ``p/(q*pi)`` must not cost more than a float).
    simplified : str
        The simplified model, for reading (never parsed back).
    timed_out : bool
        A simplification step hit its time limit (the result is then a lower
        bound on what a longer simplification could show).
    """

    symbolic: bool | None
    complexity: int
    simplified: str
    timed_out: bool = False


def _is_constant(sexpr) -> bool:
    import sympy

    if sexpr.free_symbols or sexpr.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return False
    return True


def check_symbolic(model, truth, timeout: float = 20.0, rtol: float = RATIONAL_RTOL,
                   accurate: bool = False) -> SymbolicCheck:
    """Simplify ``model`` and compare it with ``truth`` (in this process).

    ``accurate``: the model is an accuracy solution on the test data, which
    allows the domain power rules of the module docstring as a last step.
    ``truth=None`` (a real table): only simplify, for the complexity;
    ``symbolic`` is then None.

    Time limits apply only in the main thread (see the module docstring);
    :func:`check_model` is the variant that is safe anywhere.
    """
    from symdescent.expr.sympy_bridge import simplify_sympy

    deadline = time.monotonic() + timeout
    timed_out = False

    def simp(e, share: float):
        nonlocal timed_out
        left = deadline - time.monotonic()
        if left <= 0.05:
            timed_out = True
            return e
        t0 = time.monotonic()
        limit = max(0.05, share * left)
        out = simplify_sympy(e, timeout=limit)
        timed_out = timed_out or (out is e and time.monotonic() - t0 >= 0.95 * limit)
        return out

    model = to_positive(model)
    first = simp(model, 0.5 if truth is not None else 1.0)
    simplified = rationalize(first, rtol)
    if simplified is not first:  # exact numbers may cancel further (x**2.0/x -> x)
        simplified = simp(simplified, 0.5 if truth is not None else 1.0)
    size = min(complexity(first), complexity(simplified))
    if truth is None:
        return SymbolicCheck(None, size, str(simplified), timed_out)
    truth = to_positive(truth)
    diff = simp(simplified - truth, 0.5)
    symbolic = _is_constant(diff)
    if not symbolic:
        ratio = simp(simplified / truth, 0.5 if accurate else 1.0)
        symbolic = _is_constant(ratio) and ratio != 0
        if not symbolic and accurate:
            import sympy

            forced = simp(sympy.powsimp(sympy.powdenest(ratio, force=True), force=True), 1.0)
            symbolic = _is_constant(forced) and forced != 0
    return SymbolicCheck(bool(symbolic), size, str(simplified), timed_out)


def check_model(model, truth, timeout: float = 20.0, rtol: float = RATIONAL_RTOL,
                accurate: bool = False) -> SymbolicCheck:
    """:func:`check_symbolic` in a child process, so its time limits hold in any thread.

    If the child has not answered ``timeout`` seconds (plus start-up time,
    :data:`~symdescent.expr.sympy_bridge.CHILD_STARTUP_S`) later it is killed,
    and the model counts as not a symbolic solution, with the complexity of
    the unsimplified, rationalised model.
    """
    from symdescent.expr.sympy_bridge import call_with_time_limit

    try:
        return call_with_time_limit(check_symbolic, model, truth, float(timeout), float(rtol), bool(accurate),
                                    timeout=timeout, isolate=True)
    except TimeoutError:
        fallback = rationalize(to_positive(model), rtol)
        return SymbolicCheck(False if truth is not None else None, complexity(fallback), str(fallback),
                             timed_out=True)


def symbolic_columns(model, truth, timeout: float = 20.0, accurate: bool = False,
                     max_chars: int = 4000) -> dict:
    """The symbolic columns of a results row: :func:`check_model`, or its failure.

    Returns ``symbolic_solution``, ``complexity``, ``simplify_timed_out`` and
    ``model_simplified`` (cut to ``max_chars``); when the check itself fails
    (sympy cannot handle the model), ``symbolic_solution`` is False, the
    complexity is that of the unsimplified model and ``message`` says why.
    The bench runner and the LEE ablation both build their rows with it.
    With ``truth=None`` (a real table) ``symbolic_solution`` is None: the
    check does not apply.
    """
    try:
        check = check_model(model, truth, timeout, accurate=accurate)
    except Exception as exc:  # a model sympy cannot simplify is a failed check, not a failed run
        return {"symbolic_solution": False if truth is not None else None, "complexity": complexity(model),
                "message": f"symbolic check failed: {type(exc).__name__}: {exc}"[:max_chars]}
    return {"symbolic_solution": check.symbolic, "complexity": check.complexity,
            "simplify_timed_out": check.timed_out, "model_simplified": check.simplified[:max_chars]}
