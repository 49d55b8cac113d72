"""Conversion between :class:`Expression` and sympy, simplification, and time-limited sympy calls.

sympy is imported lazily: importing symdescent must stay fast.  Every sympy
call that may run away is bounded through :func:`call_with_time_limit`, the
one place that knows how (a SIGALRM timer, or a child process).
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import weakref
from typing import Sequence

from symdescent.errors import ExpressionError
from symdescent.expr import ops
from symdescent.expr.expression import Expression, apply, const


def _symbols(names: Sequence[str] | None, n: int):
    import sympy

    if names is None:
        names = [f"x{i}" for i in range(n)]
    return [sympy.Symbol(str(name), real=True) for name in names]


def simple_number(value: float, rel: float | None = None):
    """The simple number ``p/q * pi**k`` within ``rel`` of ``value`` as an exact sympy number, or None.

    The simple numbers are :func:`symdescent.expr.fit.simple_forms` (the one
    definition, which snapping uses); ``rel`` defaults to
    :data:`symdescent.expr.fit.EXACT`: ``value`` must be that number to the last
    few bits of a float, as snapped constants are (see
    :func:`~symdescent.expr.fit.as_fraction`).
    """
    import sympy

    from symdescent.expr.fit import EXACT, as_fraction

    form = as_fraction(value, EXACT if rel is None else rel)
    if form is None:
        return None
    f, k = form
    return sympy.Rational(f.numerator, f.denominator) * sympy.pi**k


def exact_number(value: float):
    """``value`` as an exact sympy number when it is exactly the float of a simple number
    (:func:`simple_number`), as snapped constants are; else a Float."""
    import sympy

    exact = simple_number(value)
    return sympy.Float(value) if exact is None else exact


def sympy_form(op: ops.Operator):
    """The callable that builds ``op``'s sympy form from the sympy forms of its arguments
    (:attr:`~symdescent.expr.ops.Operator.sympy`)."""
    if isinstance(op.sympy, str):
        import sympy

        return getattr(sympy, op.sympy)
    return op.sympy


def sympy_functions() -> dict:
    """sympy function class -> operator name, for each operator whose sympy form is a sympy function class
    (``sympy.sin``, ``sympy.Abs``), in table order: what :func:`from_sympy` reads back by name.  The others
    (``neg``, ``square``, ``sqrt`` ..., whose sympy forms are ``Mul``, ``Pow``) come back through sympy's
    structure."""
    import sympy

    out = {}
    for name, op in ops.OPERATORS.items():
        form = sympy_form(op)
        if isinstance(form, sympy.FunctionClass):
            out[form] = name
    return out


def to_sympy(expr: Expression, variable_names: Sequence[str] | None = None, *, symbolic_constants: bool = False,
             exact: bool = True):
    """Return a sympy expression.

    Constants become exact numbers where they are exactly a simple fraction
    or fraction of pi (``exact``; see :func:`exact_number`), Floats otherwise,
    or symbols ``c0, c1, ...`` with ``symbolic_constants``.
    """
    import sympy

    n_vars = max(expr.variables, default=-1) + 1
    if variable_names is not None and len(variable_names) < n_vars:
        raise ExpressionError(
            f"expression uses x{n_vars - 1} but only {len(variable_names)} variable name(s) were given"
        )
    syms = _symbols(variable_names, max(n_vars, len(variable_names or ())))
    stack = []
    ci = expr.n_constants
    for tok in reversed(expr.tokens):
        if tok == ops.CONST:
            ci -= 1
            if symbolic_constants:
                stack.append(sympy.Symbol(f"c{ci}", real=True))
            else:
                v = expr.constants[ci]
                stack.append(exact_number(v) if exact else sympy.Float(v))
        elif tok == "pi":
            stack.append(sympy.pi)
        elif tok in ops.LITERALS:
            stack.append(sympy.Integer(int(tok)))
        elif ops.is_variable(tok):
            stack.append(syms[ops.variable_index(tok)])
        else:
            op = ops.OPERATORS[tok]
            args = [stack.pop() for _ in range(op.arity)]
            stack.append(sympy_form(op)(*args))
    return stack.pop()


def float_constant(value) -> float:
    """A sympy number as a float constant; :class:`ExpressionError` where float64 cannot hold it.

    sympy's numbers are unbounded: ``(1e-300)**-2`` is ``1e600`` to sympy, which
    is ``inf`` (or an ``OverflowError`` from an Integer) as a float, and a tiny
    Rational would silently become 0.
    """
    try:
        v = float(value)
    except (OverflowError, TypeError) as exc:
        raise ExpressionError(f"number {value} cannot be represented as a float: {exc}") from None
    if not math.isfinite(v) or (v == 0 and value != 0):
        raise ExpressionError(f"number {value} cannot be represented as a float")
    return v


@functools.cache
def _sympify_words() -> frozenset[str]:
    """Names that ``sympy.sympify`` reads as something other than a symbol: what its parser puts in scope
    (``from sympy import *``, Python's builtins) and Python's keywords."""
    import builtins
    import keyword

    import sympy

    return frozenset(sympy.__all__) | frozenset(dir(builtins)) | frozenset(keyword.kwlist)


def sympy_string(sexpr) -> str:
    """``str(sexpr)``, except that a symbol whose name sympy would misread is written ``Symbol('name')``.

    The result reads back with plain ``sympy.sympify`` as the same formula over
    the same names (as plain symbols, without assumptions), whatever the names:
    ``E`` stays a symbol, not Euler's number, ``I`` not the imaginary unit,
    ``lambda`` and ``mass (kg)`` do not fail to parse.  Ordinary identifiers
    are written bare, as ``str`` writes them.

    Examples
    --------
    >>> import sympy
    >>> sympy_string(sympy.Symbol("E") * sympy.Symbol("m") ** 2)
    "Symbol('E')*m**2"
    """
    from sympy.printing.str import StrPrinter

    class _Printer(StrPrinter):
        def _print_Symbol(self, expr):
            name = expr.name
            plain = name.isascii() and name.isidentifier() and not name.startswith("_")
            return name if plain and name not in _sympify_words() else f"Symbol({name!r})"

    return _Printer().doprint(sexpr)


def from_sympy(sexpr, variable_names: Sequence[str] | None = None) -> Expression:
    """Convert a sympy expression back into an :class:`Expression`.

    Symbols are matched to ``variable_names`` (or ``x0``, ``x1``, ...);
    numbers that are not small integers or ``pi`` become constants.
    """
    import sympy

    if variable_names is None:
        index = None
    else:
        index = {str(n): i for i, n in enumerate(variable_names)}
    funcs = sympy_functions()

    def number(value) -> Expression:
        if value == sympy.pi:
            return Expression(("pi",))
        if value.is_Integer:
            v = int(value)
            if 1 <= v <= 5:
                return Expression((str(v),))
            if -5 <= v <= -1:
                return apply("neg", Expression((str(-v),)))
        if value.is_Rational:
            p, q = int(value.p), int(value.q)
            if abs(p) <= 5 and q <= 5:
                return apply("div", number(sympy.Integer(p)), number(sympy.Integer(q)))
        return const(float_constant(value))

    def conv(e) -> Expression:
        if e.is_Symbol:
            if index is None and ops.is_variable(e.name):
                return Expression((e.name,))
            if index is None or e.name not in index:
                raise ExpressionError(f"unknown symbol {e.name!r} in sympy expression")
            return Expression((f"x{index[e.name]}",))
        if e == sympy.pi:
            return Expression(("pi",))
        if e == sympy.E:
            return apply("exp", Expression(("1",)))
        if e.is_Number:
            if not e.is_finite or e.is_real is False:
                raise ExpressionError(f"number {e} cannot be represented")
            return number(e)
        if e.is_NumberSymbol:
            return const(float_constant(e))
        if e.is_Add:
            args = list(e.as_ordered_terms())
            out = conv(args[0])
            for a in args[1:]:
                coeff, rest = a.as_coeff_Mul()
                if coeff.is_Number and coeff < 0:
                    out = apply("sub", out, conv(-a))
                else:
                    out = apply("add", out, conv(a))
            return out
        if e.is_Mul:
            coeff, rest = e.as_coeff_Mul()
            if coeff.is_Number and coeff < 0:
                if coeff == -1:
                    return apply("neg", conv(rest))
                return apply("neg", conv(-e))
            num, den = sympy.fraction(e)
            if den != 1:
                return apply("div", conv(num), conv(den))
            args = list(e.as_ordered_factors())
            out = conv(args[0])
            for a in args[1:]:
                out = apply("mul", out, conv(a))
            return out
        if e.is_Pow:
            base, exp_ = e.args
            if exp_ == sympy.Rational(1, 2):
                return apply("sqrt", conv(base))
            if exp_ == -1:
                return apply("div", Expression(("1",)), conv(base))
            if exp_.is_Number and exp_ < 0:
                return apply("div", Expression(("1",)), conv(base ** (-exp_)))
            if exp_ == 2:
                return apply("square", conv(base))
            if exp_ == 3:
                return apply("cube", conv(base))
            return apply("pow", conv(base), conv(exp_))
        for f, name in funcs.items():
            if isinstance(e, f) and len(e.args) == ops.arity(name):
                return apply(name, *(conv(a) for a in e.args))
        raise ExpressionError(f"sympy expression {e} uses an operation outside the vocabulary")

    if isinstance(sexpr, str):  # never sympify text: it may run code
        raise ExpressionError("from_sympy takes a sympy expression; parse text with symdescent.expr.parse")
    if isinstance(sexpr, (int, float)):
        sexpr = sympy.Float(sexpr) if isinstance(sexpr, float) else sympy.Integer(sexpr)
    if not isinstance(sexpr, sympy.Basic):
        raise ExpressionError(f"from_sympy takes a sympy expression, got {type(sexpr).__name__}")
    return conv(sexpr)


# ---------------------------------------------------------------------------
# time-limited sympy calls
# ---------------------------------------------------------------------------
#: seconds a child process (``isolate=True``) gets beyond its time limit to start Python and import what it runs
CHILD_STARTUP_S = 20.0
#: after the time limit, the alarm repeats at this interval until the guarded code has stopped
_RETRY_S = 0.05


class _Timeout(Exception):
    pass


def call_with_time_limit(fn, *args, timeout: float, isolate: bool = False, without_limit=None):
    """``fn(*args)``, stopped with :class:`TimeoutError` after ``timeout`` seconds: how symdescent bounds sympy.

    sympy's ``simplify`` can run for minutes, and running Python code can only
    be stopped from inside, by a signal, or from outside, by ending its
    process.  Both are needed, so this one function owns both and the caller
    chooses:

    * ``isolate=False`` (the search's normalisation and simplification, which
      take milliseconds and run for each member of a front, where starting a
      process would cost a second or more): a SIGALRM timer raises inside
      ``fn``.  Python sets signal handlers only in the main thread, so in any
      other thread (an island's Dask worker), on a platform without
      ``setitimer``, or with ``timeout <= 0``, no limit can be set:
      ``without_limit(*args)`` runs instead (a bounded variant, as for
      :func:`simplify_sympy`; default ``fn`` itself, unlimited).  The alarm
      is not reentrant: ``fn`` must not set limits of its own.
    * ``isolate=True`` (the benchmark's symbolic check, which runs in Dask
      worker threads and needs the full ``simplify`` of its every step):
      ``fn(*args)`` runs in the main thread of a fresh Python process, where
      the in-process limits that ``fn`` sets on its own steps hold, and the
      child is killed when it has not answered ``timeout`` plus
      :data:`CHILD_STARTUP_S` seconds later.  This works from any thread.
      ``fn`` must be a module-level function of an importable module; it, its
      arguments and its result travel as pickles between the two processes
      (no string is ever evaluated).  A failure in the child raises
      RuntimeError with the child's last line of error output.

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> call_with_time_limit(sympy.simplify, sympy.sin(x) ** 2 + sympy.cos(x) ** 2, timeout=5)
    1
    """
    if isolate:
        return _call_in_child(fn, args, timeout)
    if timeout <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return (fn if without_limit is None else without_limit)(*args)

    def handler(signum, frame):
        # raised inside a weakref callback, a __del__ or a gc.callbacks hook (the garbage collector's; Dask's
        # client registers one), the exception would be swallowed ("Exception ignored in ...") or break that
        # hook, and the limit would be lost: skip those, the timer fires again soon
        if frame is not None and (frame.f_code.co_name == "__del__" or frame.f_code.co_filename == weakref.__file__
                                  or _in_gc_callback(frame)):
            return
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, timeout, _RETRY_S)
    try:
        return fn(*args)
    except _Timeout:
        raise TimeoutError(f"{getattr(fn, '__qualname__', fn)} ran past its time limit of {timeout:g} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _in_gc_callback(frame) -> bool:
    """Whether ``frame`` runs inside one of the garbage collector's ``gc.callbacks`` hooks."""
    import gc

    codes = [c for cb in gc.callbacks if (c := getattr(getattr(cb, "__func__", cb), "__code__", None)) is not None]
    while codes and frame is not None:
        if any(frame.f_code is c for c in codes):
            return True
        frame = getattr(frame, "f_back", None)
    return False


def _call_in_child(fn, args, timeout: float):
    """``fn(*args)`` in a child Python process (see :func:`call_with_time_limit`)."""
    fd, out_path = tempfile.mkstemp(prefix="symdescent-sympy-", suffix=".pkl")
    os.close(fd)
    try:
        try:
            proc = subprocess.run([sys.executable, "-m", "symdescent.expr.sympy_bridge", out_path],
                                  input=pickle.dumps((fn, args)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  timeout=timeout + CHILD_STARTUP_S)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{getattr(fn, '__qualname__', fn)} ran past its time limit of {timeout:g} s "
                               "(child process killed)") from None
        if proc.returncode != 0:
            reason = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"{getattr(fn, '__qualname__', fn)} failed in a child process: {reason[0]}")
        with open(out_path, "rb") as fh:
            return pickle.load(fh)
    finally:
        os.unlink(out_path)


def _child_main(argv: list[str]) -> int:
    """Child process entry of :func:`_call_in_child`: read the pickled ``(fn, args)`` from stdin,
    write the pickled ``fn(*args)`` to ``argv[0]``."""
    fn, args = pickle.loads(sys.stdin.buffer.read())
    result = fn(*args)
    with open(argv[0], "wb") as fh:
        pickle.dump(result, fh)
    return 0


def simplify_sympy(sexpr, timeout: float = 2.0):
    """sympy-simplify ``sexpr`` within ``timeout`` seconds; return the input on time-out.

    The full ``sympy.simplify`` runs only where a time limit can be set in
    this process (the main thread, see :func:`call_with_time_limit`);
    elsewhere cheaper, bounded rewrites are used.
    """
    import sympy

    try:
        return call_with_time_limit(sympy.simplify, sexpr, timeout=timeout, without_limit=_bounded_rewrites)
    except TimeoutError:
        return sexpr
    except (RecursionError, TypeError, ValueError, AttributeError, ZeroDivisionError):
        return sexpr


def _bounded_rewrites(sexpr):
    """Rewrites that cannot run away, for threads where no time limit can be set.

    ``cancel`` is a polynomial GCD: with floats (read as huge rationals) or
    high or fractional powers in many variables it can run for hours, so the
    floats become symbols first and it runs only on small expressions whose
    powers are small integers; ``powsimp`` alone otherwise.
    """
    import sympy

    out = sympy.powsimp(sexpr)
    pows_ok = all(p.exp.is_Integer and abs(int(p.exp)) <= 4 for p in out.atoms(sympy.Pow))
    if out.count_ops() >= 30 or not pows_ok or len(out.free_symbols) > 6:
        return out
    floats = {f: sympy.Dummy() for f in out.atoms(sympy.Float)}
    return sympy.cancel(out.xreplace(floats)).xreplace({d: f for f, d in floats.items()})


def simplify(expr: Expression, timeout: float = 2.0) -> Expression:
    """Simplify an expression through sympy; keep the original unless it gets smaller."""
    try:
        s = simplify_sympy(to_sympy(expr), timeout)
        out = from_sympy(s)
    except ExpressionError:
        return expr
    if out.complexity < expr.complexity and all(math.isfinite(c) for c in out.constants):
        return out
    return expr


def normalise_constants(expr: Expression, timeout: float = 0.5) -> Expression:
    """The same function with only constants the data can tell apart; ``expr`` itself when none is redundant.

    A fitted ``-9636.8*u/(-3212.3*w - 3212.3)`` is ``3*u/(w + 1)``: its three
    constants move together without changing a value.  Every quotient is
    divided through by its denominator's constant term (or, without one, by
    the coefficient of its first term), so that coefficient becomes 1, and
    sympy's arithmetic on floats merges the scale factors of a product.  The
    constants left are then identifiable, so they can be snapped.

    >>> from symdescent.expr import parse
    >>> normalise_constants(parse("-9.0*x0/(-3.0*x1 - 3.0)")).to_infix()
    '3.0 * x0 / (x1 + 1)'
    """
    import sympy

    def through(node):
        if not node.is_Mul:
            return node
        num, den = sympy.fraction(node)
        if not den.is_Add:
            return node
        lead, _ = den.as_coeff_Add()
        if lead == 0:
            lead, _ = den.as_ordered_terms()[0].as_coeff_Mul()
        if not lead.is_Float or lead == 1:
            return node
        # c / c is exactly 1.0: make it the integer, so that ``1.0*w`` reads ``w``
        den = sympy.expand(den / lead).xreplace({sympy.Float(1.0): sympy.Integer(1)})
        return (num / lead) / den

    def rewrite():
        before = to_sympy(expr, exact=False)
        after = sympy.bottom_up(before, through)
        return None if after == before else from_sympy(after)

    try:  # within ``timeout`` where a limit can be set (see call_with_time_limit), unlimited elsewhere
        out = call_with_time_limit(rewrite, timeout=timeout)
    except (TimeoutError, ExpressionError, RecursionError, TypeError, ValueError, ZeroDivisionError):
        return expr
    if out is None:
        return expr
    if out.n_constants < expr.n_constants and all(math.isfinite(c) for c in out.constants):
        return out
    return expr


def readable(expression, names, digits: int = 6) -> str:
    """The model as a person reads it: the sympy form the JSON's ``expression`` holds
    (``m*v**2/2``, not the search's tree ``0.5 * (m * square(v))``), with its
    decimal constants shown to ``digits`` significant digits."""
    try:
        import sympy

        sexpr = expression.to_sympy(names)
        floats = sexpr.atoms(sympy.Float)
        if floats:
            sexpr = sexpr.xreplace({f: sympy.Float(f, digits) for f in floats})
        return str(sexpr)
    except (ValueError, OverflowError, RecursionError):  # no sympy form: the exact infix instead
        return expression.to_infix(names, precision=digits)


if __name__ == "__main__":  # the child process of call_with_time_limit(..., isolate=True)
    sys.exit(_child_main(sys.argv[1:]))
