"""Compiled (numba) evaluation, Jacobian and constant fitting of prefix expressions.

The reference implementations in :mod:`symdescent.expr.evaluate` and
:mod:`symdescent.expr.fit` walk the token list in Python and call one numpy
function per node; for the few hundred rows the search fits on, that Python
overhead dominates.  This module turns a prefix token tuple once into integer
arrays (a :class:`Program`) and runs everything else -- evaluation, the
forward-mode Jacobian with respect to the constants and a complete
Levenberg-Marquardt fit of the constants -- inside numba.

Evaluation walks the program in postfix order over a ``(depth, n)`` stack
buffer; every node is one tight (SIMD-vectorised where the operation allows)
loop over the rows, so the per-node cost is a branch, not a Python call.
Leaves are not copied: variables are read in place from a transposed copy of
the used columns of ``X``, and subtrees without variables stay scalars until
they meet a vector, as numpy's broadcasting does in the reference.

Results follow :func:`~symdescent.expr.evaluate.evaluate_tokens` exactly
where the arithmetic is the same: domain errors give NaN, ``log(0)`` gives
``-inf``, ``x / 0`` gives ``inf`` or NaN, overflow gives ``inf`` and ``pow``
has C ``pow`` (= ``np.power``) semantics.  Transcendental functions
may differ from numpy's in the last bits (numpy uses its own SIMD versions of
``exp``, ``log``, ``sin`` ... on some CPUs), so values agree to about 1e-15
relative, not always bit for bit.

Examples
--------
>>> import numpy as np
>>> p = compile_program(("mul", "C", "exp", "mul", "C", "x0"))
>>> X = np.linspace(0, 1, 5)[:, None]
>>> y = 2.0 * np.exp(-1.5 * X[:, 0])
>>> c, a, b, mse, ok = fit_constants(p, np.array([1.0, -1.0]), X, y, False, True)
>>> np.round(c, 6).tolist(), ok, mse < 1e-20
([2.0, -1.5], True, True)
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Sequence

import numba
import numpy as np

from symdescent.expr import ops

__all__ = [
    "Program",
    "compile_program",
    "evaluate",
    "evaluate_jacobian",
    "fit_constants",
]


def _jit(fn):
    """``numba.njit`` with on-disk caching where a cache directory is writable.

    numba raises at decoration time when it finds no writable cache location;
    then the function is compiled per process instead.  ``error_model="numpy"``
    makes ``x / 0`` give inf/NaN instead of raising ``ZeroDivisionError``.
    """
    try:
        return numba.njit(cache=True, nogil=True, error_model="numpy")(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, error_model="numpy")(fn)


# ---------------------------------------------------------------------------
# opcodes
# ---------------------------------------------------------------------------
OP_VAR = 0
OP_CONST = 1
OP_LIT = 2
OP_ADD = 3
OP_SUB = 4
OP_MUL = 5
OP_DIV = 6
OP_POW = 7
OP_NEG = 8  # first unary opcode
OP_SQRT = 9
OP_EXP = 10
OP_LOG = 11
OP_SIN = 12
OP_COS = 13
OP_TAN = 14
OP_TANH = 15
OP_ASIN = 16
OP_ABS = 17
OP_SQUARE = 18
OP_CUBE = 19

OPCODES: dict[str, int] = {
    "add": OP_ADD, "sub": OP_SUB, "mul": OP_MUL, "div": OP_DIV, "pow": OP_POW,
    "neg": OP_NEG, "sqrt": OP_SQRT, "exp": OP_EXP, "log": OP_LOG, "sin": OP_SIN,
    "cos": OP_COS, "tan": OP_TAN, "tanh": OP_TANH, "asin": OP_ASIN, "abs": OP_ABS,
    "square": OP_SQUARE, "cube": OP_CUBE,
}
assert set(OPCODES) == set(ops.OPERATORS), "compiled.py is out of step with ops.py"


class Program(NamedTuple):
    """A prefix expression compiled to arrays, in postfix (execution) order.

    Attributes
    ----------
    tokens : tuple of str
        The prefix tokens it was compiled from.
    code : int64 array (m,)
        Opcodes (``OP_*``), children before parents.
    arg : int64 array (m,)
        For ``OP_VAR`` the index into ``columns``, for ``OP_CONST`` the
        constant's index, else 0.
    value : float64 array (m,)
        Literal value for ``OP_LIT``, else 0.
    columns : int64 array
        The columns of ``X`` the expression reads, ascending; the kernels work
        on a transposed copy of these columns.
    depth : int
        Maximum stack depth of the postfix walk (rows of the stack buffer).
    n_constants : int
        Number of ``C`` placeholders.
    n_variables : int
        One more than the highest variable column used (0 if none).
    """

    tokens: tuple
    code: np.ndarray
    arg: np.ndarray
    value: np.ndarray
    columns: np.ndarray
    depth: int
    n_constants: int
    n_variables: int


def compile_program(tokens: Sequence[str]) -> Program:
    """Compile prefix ``tokens`` into a :class:`Program` (cached by tokens).

    Raises ``ValueError`` (an :class:`~symdescent.errors.ExpressionError`) for
    unknown tokens or an incomplete sequence.

    >>> p = compile_program(("add", "x1", "C"))
    >>> p.code.tolist(), p.arg.tolist(), p.columns.tolist(), p.depth, p.n_constants
    ([1, 0, 3], [0, 0, 0], [1], 2, 1)
    """
    return _compile_cached(tuple(tokens))


@functools.lru_cache(maxsize=16384)
def _compile_cached(tokens: tuple) -> Program:
    from symdescent.expr.expression import validate_prefix

    validate_prefix(tokens)
    m = len(tokens)
    code = np.empty(m, dtype=np.int64)
    arg = np.zeros(m, dtype=np.int64)
    value = np.zeros(m, dtype=np.float64)
    n_const = tokens.count(ops.CONST)
    ci = n_const
    columns = sorted({ops.variable_index(t) for t in tokens if ops.is_variable(t)})
    slot = {col: i for i, col in enumerate(columns)}
    sp = depth = 0
    for t, tok in enumerate(reversed(tokens)):
        op = OPCODES.get(tok)
        if op is not None:
            code[t] = op
            sp -= ops.OPERATORS[tok].arity - 1
            continue
        if tok == ops.CONST:
            ci -= 1
            code[t], arg[t] = OP_CONST, ci
        elif tok in ops.LITERALS:
            code[t], value[t] = OP_LIT, ops.LITERALS[tok]
        else:
            code[t], arg[t] = OP_VAR, slot[ops.variable_index(tok)]
        sp += 1
        depth = max(depth, sp)
    n_vars = columns[-1] + 1 if columns else 0
    return Program(tokens, code, arg, value, np.array(columns, dtype=np.int64), depth, n_const, n_vars)


def _program(program) -> Program:
    """A :class:`Program` from a Program, prefix tokens or an Expression."""
    if isinstance(program, Program):
        return program
    return compile_program(getattr(program, "tokens", program))


def _check_X(program: Program, X) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, columns), got shape {X.shape}")
    if X.shape[1] < program.n_variables:
        raise ValueError(
            f"expression uses x{program.n_variables - 1} but X has only {X.shape[1]} column(s)"
        )
    return X


def _check_constants(program: Program, constants) -> np.ndarray:
    c = np.ascontiguousarray(constants, dtype=np.float64).reshape(-1)
    if c.shape[0] != program.n_constants:
        raise ValueError(
            f"expression has {program.n_constants} constant(s) but {c.shape[0]} value(s) were given"
        )
    return c


# ---------------------------------------------------------------------------
# kernels: one loop over the rows per node
# ---------------------------------------------------------------------------
@_jit
def _unary(op, a, out):
    """``out = op(a)`` row by row (``out`` may be ``a``)."""
    n = out.shape[0]
    if op == OP_NEG:
        for i in range(n):
            out[i] = -a[i]
    elif op == OP_SQRT:
        for i in range(n):
            out[i] = math.sqrt(a[i])
    elif op == OP_EXP:
        for i in range(n):
            out[i] = math.exp(a[i])
    elif op == OP_LOG:
        for i in range(n):
            out[i] = math.log(a[i])
    elif op == OP_SIN:
        for i in range(n):
            out[i] = math.sin(a[i])
    elif op == OP_COS:
        for i in range(n):
            out[i] = math.cos(a[i])
    elif op == OP_TAN:
        for i in range(n):
            out[i] = math.tan(a[i])
    elif op == OP_TANH:
        for i in range(n):
            out[i] = math.tanh(a[i])
    elif op == OP_ASIN:
        for i in range(n):
            out[i] = math.asin(a[i])
    elif op == OP_ABS:
        for i in range(n):
            out[i] = abs(a[i])
    elif op == OP_SQUARE:
        for i in range(n):
            out[i] = a[i] * a[i]
    else:  # OP_CUBE
        for i in range(n):
            out[i] = a[i] * a[i] * a[i]


@_jit
def _binary(op, a, b, out):
    """``out = op(a, b)`` row by row (``out`` may be ``a`` or ``b``)."""
    n = out.shape[0]
    if op == OP_ADD:
        for i in range(n):
            out[i] = a[i] + b[i]
    elif op == OP_SUB:
        for i in range(n):
            out[i] = a[i] - b[i]
    elif op == OP_MUL:
        for i in range(n):
            out[i] = a[i] * b[i]
    elif op == OP_DIV:
        for i in range(n):
            out[i] = a[i] / b[i]
    else:  # OP_POW
        for i in range(n):
            out[i] = a[i] ** b[i]


@_jit
def _unary_d(op, a, out, da):
    """``out = op(a)`` and ``da = op'(a)``, as in ``evaluate._derivative``."""
    n = out.shape[0]
    if op == OP_NEG:
        for i in range(n):
            out[i] = -a[i]
            da[i] = -1.0
    elif op == OP_SQRT:
        for i in range(n):
            f = math.sqrt(a[i])
            out[i] = f
            da[i] = 0.5 / f
    elif op == OP_EXP:
        for i in range(n):
            f = math.exp(a[i])
            out[i] = f
            da[i] = f
    elif op == OP_LOG:
        for i in range(n):
            x = a[i]
            out[i] = math.log(x)
            da[i] = 1.0 / x
    elif op == OP_SIN:
        for i in range(n):
            x = a[i]
            out[i] = math.sin(x)
            da[i] = math.cos(x)
    elif op == OP_COS:
        for i in range(n):
            x = a[i]
            out[i] = math.cos(x)
            da[i] = -math.sin(x)
    elif op == OP_TAN:
        for i in range(n):
            f = math.tan(a[i])
            out[i] = f
            da[i] = 1.0 + f * f
    elif op == OP_TANH:
        for i in range(n):
            f = math.tanh(a[i])
            out[i] = f
            da[i] = 1.0 - f * f
    elif op == OP_ASIN:
        for i in range(n):
            x = a[i]
            out[i] = math.asin(x)
            da[i] = 1.0 / math.sqrt(1.0 - x * x)
    elif op == OP_ABS:
        for i in range(n):
            x = a[i]
            out[i] = abs(x)
            da[i] = np.sign(x)
    elif op == OP_SQUARE:
        for i in range(n):
            x = a[i]
            out[i] = x * x
            da[i] = 2.0 * x
    else:  # OP_CUBE
        for i in range(n):
            x = a[i]
            out[i] = x * x * x
            da[i] = 3.0 * x * x


@_jit
def _binary_d(op, a, b, out, da, db):
    """``out = op(a, b)`` with both partial derivatives (``out`` may alias ``b``)."""
    n = out.shape[0]
    if op == OP_ADD:
        for i in range(n):
            out[i] = a[i] + b[i]
            da[i] = 1.0
            db[i] = 1.0
    elif op == OP_SUB:
        for i in range(n):
            out[i] = a[i] - b[i]
            da[i] = 1.0
            db[i] = -1.0
    elif op == OP_MUL:
        for i in range(n):
            x = a[i]
            z = b[i]
            out[i] = x * z
            da[i] = z
            db[i] = x
    elif op == OP_DIV:
        for i in range(n):
            x = a[i]
            z = b[i]
            out[i] = x / z
            da[i] = 1.0 / z
            db[i] = -x / (z * z)
    else:  # OP_POW
        for i in range(n):
            x = a[i]
            z = b[i]
            f = x ** z
            out[i] = f
            da[i] = z * x ** (z - 1.0)
            db[i] = f * math.log(x)


@_jit
def _unary_s(op, x):
    """``op(x)`` on a scalar, with the same arithmetic as :func:`_unary`."""
    if op == OP_NEG:
        return -x
    if op == OP_SQRT:
        return math.sqrt(x)
    if op == OP_EXP:
        return math.exp(x)
    if op == OP_LOG:
        return math.log(x)
    if op == OP_SIN:
        return math.sin(x)
    if op == OP_COS:
        return math.cos(x)
    if op == OP_TAN:
        return math.tan(x)
    if op == OP_TANH:
        return math.tanh(x)
    if op == OP_ASIN:
        return math.asin(x)
    if op == OP_ABS:
        return abs(x)
    if op == OP_SQUARE:
        return x * x
    return x * x * x


@_jit
def _binary_s(op, x, z):
    """``op(x, z)`` on scalars, with the same arithmetic as :func:`_binary`."""
    if op == OP_ADD:
        return x + z
    if op == OP_SUB:
        return x - z
    if op == OP_MUL:
        return x * z
    if op == OP_DIV:
        return x / z
    return x ** z


@_jit
def _binary_sv(op, x, b, out):
    """``out = op(x, b)`` for a scalar first operand."""
    n = out.shape[0]
    if op == OP_ADD:
        for i in range(n):
            out[i] = x + b[i]
    elif op == OP_SUB:
        for i in range(n):
            out[i] = x - b[i]
    elif op == OP_MUL:
        for i in range(n):
            out[i] = x * b[i]
    elif op == OP_DIV:
        for i in range(n):
            out[i] = x / b[i]
    else:
        for i in range(n):
            out[i] = x ** b[i]


@_jit
def _binary_vs(op, a, z, out):
    """``out = op(a, z)`` for a scalar second operand."""
    n = out.shape[0]
    if op == OP_ADD:
        for i in range(n):
            out[i] = a[i] + z
    elif op == OP_SUB:
        for i in range(n):
            out[i] = a[i] - z
    elif op == OP_MUL:
        for i in range(n):
            out[i] = a[i] * z
    elif op == OP_DIV:
        for i in range(n):
            out[i] = a[i] / z
    else:
        for i in range(n):
            out[i] = a[i] ** z


@_jit
def _gather_columns(X, columns):
    """The used columns of ``X`` (n, d) as contiguous rows (len(columns), n)."""
    n = X.shape[0]
    XT = np.empty((columns.shape[0], n))
    for i in range(n):
        for s in range(columns.shape[0]):
            XT[s, i] = X[i, columns[s]]
    return XT


# stack entry kinds of the evaluation kernel
_IN_STACK = 0  # a vector in its own row of the stack buffer
_IN_X = 1  # a column of X, read in place (row ``ref`` of XT)
_SCALAR = 2  # a scalar (the subtree holds only constants and literals)


@_jit
def _eval_into(code, arg, value, consts, XT, stack, kind, ref, sval, out):
    """Evaluate the program into ``out`` (n,).

    ``XT`` (columns, n) holds the used columns of X as rows; ``stack``
    (depth, n) is the work buffer, ``kind``, ``ref`` and ``sval`` (depth,)
    describe each stack entry: leaves are never copied, variables are read
    from ``XT`` in place and subtrees without variables stay scalars, as
    numpy does in the reference evaluator.
    """
    sp = 0
    for t in range(code.shape[0]):
        op = code[t]
        if op == OP_VAR:
            kind[sp] = _IN_X
            ref[sp] = arg[t]
            sp += 1
        elif op == OP_CONST:
            kind[sp] = _SCALAR
            sval[sp] = consts[arg[t]]
            sp += 1
        elif op == OP_LIT:
            kind[sp] = _SCALAR
            sval[sp] = value[t]
            sp += 1
        elif op < OP_NEG:
            ta = sp - 1  # first child on top
            tb = sp - 2  # second child below; the result goes here
            ka = kind[ta]
            kb = kind[tb]
            if ka == _SCALAR and kb == _SCALAR:
                sval[tb] = _binary_s(op, sval[ta], sval[tb])
            elif ka == _SCALAR:
                vb = stack[tb] if kb == _IN_STACK else XT[ref[tb]]
                _binary_sv(op, sval[ta], vb, stack[tb])
                kind[tb] = _IN_STACK
            elif kb == _SCALAR:
                va = stack[ta] if ka == _IN_STACK else XT[ref[ta]]
                _binary_vs(op, va, sval[tb], stack[tb])
                kind[tb] = _IN_STACK
            else:
                va = stack[ta] if ka == _IN_STACK else XT[ref[ta]]
                vb = stack[tb] if kb == _IN_STACK else XT[ref[tb]]
                _binary(op, va, vb, stack[tb])
                kind[tb] = _IN_STACK
            sp -= 1
        else:
            ta = sp - 1
            ka = kind[ta]
            if ka == _SCALAR:
                sval[ta] = _unary_s(op, sval[ta])
            else:
                va = stack[ta] if ka == _IN_STACK else XT[ref[ta]]
                _unary(op, va, stack[ta])
                kind[ta] = _IN_STACK
    if kind[0] == _SCALAR:
        out[:] = sval[0]
    elif kind[0] == _IN_X:
        out[:] = XT[ref[0]]
    else:
        out[:] = stack[0]


@_jit
def _jac_into(code, arg, value, consts, XT, vstack, gstack, has, da, db, out, J):
    """Values into ``out`` (n,) and the Jacobian into ``J`` (k, n), forward mode.

    ``gstack`` (depth, k, n) holds the gradient rows of each stack entry;
    ``has[s]`` says whether entry ``s`` depends on a constant at all (its
    gradient is never touched otherwise, as in ``evaluate_with_jacobian``).
    """
    n = out.shape[0]
    k = consts.shape[0]
    sp = 0
    for t in range(code.shape[0]):
        op = code[t]
        if op == OP_VAR:
            vstack[sp, :] = XT[arg[t]]
            has[sp] = False
            sp += 1
        elif op == OP_CONST:
            vstack[sp, :] = consts[arg[t]]
            gstack[sp, :, :] = 0.0
            gstack[sp, arg[t], :] = 1.0
            has[sp] = True
            sp += 1
        elif op == OP_LIT:
            vstack[sp, :] = value[t]
            has[sp] = False
            sp += 1
        elif op < OP_NEG:
            ta = sp - 1  # first child
            tb = sp - 2  # second child; receives the result
            ha = has[ta]
            hb = has[tb]
            if not ha and not hb:
                _binary(op, vstack[ta], vstack[tb], vstack[tb])
            else:
                _binary_d(op, vstack[ta], vstack[tb], vstack[tb], da, db)
                for j in range(k):
                    ga = gstack[ta, j]
                    gb = gstack[tb, j]
                    if ha and hb:
                        for i in range(n):
                            gb[i] = da[i] * ga[i] + db[i] * gb[i]
                    elif ha:
                        for i in range(n):
                            gb[i] = da[i] * ga[i]
                    else:
                        for i in range(n):
                            gb[i] = db[i] * gb[i]
                has[tb] = True
            sp -= 1
        else:
            ta = sp - 1
            if not has[ta]:
                _unary(op, vstack[ta], vstack[ta])
            else:
                _unary_d(op, vstack[ta], vstack[ta], da)
                for j in range(k):
                    ga = gstack[ta, j]
                    for i in range(n):
                        ga[i] = da[i] * ga[i]
    out[:] = vstack[0]
    if has[0]:
        J[:, :] = gstack[0]
    else:
        J[:, :] = 0.0


@_jit
def _evaluate_kernel(code, arg, value, columns, depth, consts, X):
    n = X.shape[0]
    d = max(depth, 1)
    out = np.empty(n)
    _eval_into(code, arg, value, consts, _gather_columns(X, columns), np.empty((d, n)),
               np.zeros(d, dtype=np.int64), np.zeros(d, dtype=np.int64), np.zeros(d), out)
    return out


@_jit
def _jacobian_kernel(code, arg, value, columns, depth, consts, X):
    n = X.shape[0]
    k = consts.shape[0]
    d = max(depth, 1)
    out = np.empty(n)
    J = np.empty((k, n))
    _jac_into(code, arg, value, consts, _gather_columns(X, columns), np.empty((d, n)),
              np.empty((d, k, n)), np.zeros(d, dtype=np.bool_), np.empty(n), np.empty(n), out, J)
    return out, J


# ---------------------------------------------------------------------------
# public evaluation API
# ---------------------------------------------------------------------------
def evaluate(program, constants, X) -> np.ndarray:
    """Evaluate ``program`` (a :class:`Program` or prefix tokens) on the rows of ``X``.

    Returns an ``(n,)`` float64 array; NaN / inf mark domain errors and
    overflow, as in :func:`~symdescent.expr.evaluate.evaluate_tokens`.
    """
    p = _program(program)
    X = _check_X(p, X)
    c = _check_constants(p, constants)
    return _evaluate_kernel(p.code, p.arg, p.value, p.columns, p.depth, c, X)


def evaluate_jacobian(program, constants, X) -> tuple[np.ndarray, np.ndarray]:
    """Values ``(n,)`` and Jacobian ``(n, k)`` w.r.t. the ``k`` constants.

    Matches :func:`~symdescent.expr.evaluate.evaluate_with_jacobian`, including
    where it is non-finite.
    """
    p = _program(program)
    X = _check_X(p, X)
    c = _check_constants(p, constants)
    f, J = _jacobian_kernel(p.code, p.arg, p.value, p.columns, p.depth, c, X)
    return f, np.ascontiguousarray(J.T)


# ---------------------------------------------------------------------------
# Levenberg-Marquardt with the linear scale / offset projected out
# ---------------------------------------------------------------------------
_DEGENERATE = 1e-13  # f counts as constant when its spread is below this times |f|
_FTOL = 1e-10  # stop when the relative improvement of the SSE falls below this
_XTOL = 1e-12  # ... or the step below this relative to the constants
_GTOL = 1e-10  # ... or every Jacobian column is this close to orthogonal to the residual
_EXACT = 1e-15  # ... or every residual is below this times the size of its row: an exact fit
_REDUNDANT = 1e-8  # Jacobian columns shrunk below this by the projection are dropped

# why _fit_kernel stopped (its last return value)
_STOP_BUDGET = 0  # max_iter trial steps used
_STOP_GTOL = 1  # gradient (nearly) orthogonal to the residual
_STOP_XTOL = 2  # step negligible
_STOP_FTOL = 3  # relative improvement negligible
_STOP_EXACT = 4  # residual at rounding level
_STOP_DAMPING = 5  # no acceptable step even with huge damping
_STOP_FLAT = 6  # Jacobian vanishes (e.g. a = 0): nothing to fit
_STOP_START = 7  # no iterations: k = 0, max_iter <= 0 or exact or infinite SSE at the start
_STOP_INVALID = 8  # no starting point with finite f


@_jit
def _all_finite(v):
    for i in range(v.shape[0]):
        if not math.isfinite(v[i]):
            return False
    return True


@_jit
def _mean(v):
    n = v.shape[0]
    s = 0.0
    for i in range(n):
        s += v[i]
    m = s / n
    if not math.isfinite(m):  # the sum overflowed
        s = 0.0
        for i in range(n):
            s += v[i] / n
        m = s
    return m


@_jit
def _scale(f, y, ymean, use_a, use_b):
    """Closed-form ``a, b`` for ``a f + b ~ y`` (1 / 0 when unused) and ``f``'s mean.

    A constant ``f`` (spread below ``_DEGENERATE`` times its size) gives
    ``a = 0, b = mean(y)`` when both are used; a non-finite solution gives the
    same.  Sums are taken on ``f`` divided by its largest entry so that huge
    or tiny values neither overflow nor underflow.
    """
    n = f.shape[0]
    if use_a and use_b:
        fm = _mean(f)
        s = 0.0
        big = abs(fm)
        for i in range(n):
            s = max(s, abs(f[i] - fm))
            big = max(big, abs(f[i]))
        if not (s > _DEGENERATE * big) or not math.isfinite(s):
            return 0.0, ymean, fm
        num = 0.0
        den = 0.0
        for i in range(n):
            u = (f[i] - fm) / s
            num += u * (y[i] - ymean)
            den += u * u
        a = num / den / s
        b = ymean - a * fm
        if not (math.isfinite(a) and math.isfinite(b)):
            return 0.0, ymean, fm
        return a, b, fm
    if use_a:
        s = 0.0
        for i in range(n):
            s = max(s, abs(f[i]))
        if not (s > 0.0) or not math.isfinite(s):
            return 0.0, 0.0, 0.0
        num = 0.0
        den = 0.0
        for i in range(n):
            u = f[i] / s
            num += u * y[i]
            den += u * u
        a = num / den / s
        if not math.isfinite(a):
            return 0.0, ymean, 0.0
        return a, 0.0, 0.0
    if use_b:
        b = 0.0
        for i in range(n):
            b += y[i] - f[i]
        b /= n
        if not math.isfinite(b):
            return 0.0, ymean, 0.0
        return 1.0, b, 0.0
    return 1.0, 0.0, 0.0


@_jit
def _sse(f, y, a, b):
    s = 0.0
    for i in range(f.shape[0]):
        r = a * f[i] + b - y[i]
        s += r * r
    return s if math.isfinite(s) else np.inf


@_jit
def _exact(f, y, a, b):
    """True when every residual is at the rounding level of its own row."""
    for i in range(f.shape[0]):
        p = a * f[i]
        if not abs(p + b - y[i]) <= _EXACT * (abs(y[i]) + abs(p) + abs(b)):
            return False
    return True


@_jit
def _fit_scale(f, y, ymean, use_a, use_b):
    """``a, b, mean(f), SSE`` at the closed-form scaling, or at ``a = 1, b = 0``
    when that is no worse.

    The plain terms win only where rounding spoils the closed form: when ``y``
    spans many orders of magnitude, ``a`` and ``b`` carry errors of a few ulps
    of the largest values, which can exceed the whole residual of an exact
    fit; without the plain terms the SSE would be rounding noise there and
    the fit could not find the exact constants.
    """
    a, b, fm = _scale(f, y, ymean, use_a, use_b)
    sse = _sse(f, y, a, b)
    if (use_a or use_b) and (a != 1.0 or b != 0.0):
        plain = _sse(f, y, 1.0, 0.0)
        if plain <= sse:
            return 1.0, 0.0, fm, plain
    return a, b, fm, sse


@_jit
def _normal_equations(f, J, y, a, b, fm, use_a, use_b, q, A, D, dnorm, g, scale, colnorm):
    """Kaufman's projected Jacobian, column-scaled, as normal equations.

    ``J`` (k, n) is overwritten with ``a J`` minus its component in the span
    of the used outer terms ``{f, 1}``, non-finite entries set to 0 first
    (they come from infinite slopes; the acceptance test of the step still
    uses the true SSE).  A column that the projection shrinks below
    ``_REDUNDANT`` of its size belongs to a constant that only duplicates
    ``a`` or ``b``; it is zeroed, so that constant does not move.  Column
    ``j`` is divided by ``scale[j]``, its largest entry, so that
    ``A = Js Js^T`` and ``g = Js r`` cannot overflow; ``D`` receives the
    damping diagonal (in the same scaled units) and ``dnorm`` the running
    maximum of the unscaled column norms.  Returns False when the Jacobian
    vanishes (nothing left to fit).
    """
    k, n = J.shape
    for j in range(k):
        s = 0.0
        for i in range(n):
            v = a * J[j, i]
            if not math.isfinite(v):
                v = 0.0
            J[j, i] = v
            s = max(s, abs(v))
        colnorm[j] = s  # size before the projection
    # orthonormal basis of the outer terms: 1/sqrt(n), then f (centred if 1 is used)
    if use_b:
        inv = 1.0 / math.sqrt(n)
        for j in range(k):
            d = 0.0
            for i in range(n):
                d += J[j, i]
            d *= inv
            for i in range(n):
                J[j, i] -= d * inv
    if use_a and a != 0.0:
        c = fm if use_b else 0.0
        s = 0.0
        for i in range(n):
            s = max(s, abs(f[i] - c))
        if s > 0.0 and math.isfinite(s):
            nrm = 0.0
            for i in range(n):
                q[i] = (f[i] - c) / s
                nrm += q[i] * q[i]
            nrm = math.sqrt(nrm)
            for i in range(n):
                q[i] /= nrm
            for j in range(k):
                d = 0.0
                for i in range(n):
                    d += q[i] * J[j, i]
                for i in range(n):
                    J[j, i] -= d * q[i]
    any_col = False
    for j in range(k):
        s = 0.0
        for i in range(n):
            s = max(s, abs(J[j, i]))
        # a column (nearly) inside span{f, 1} is rounding noise after the
        # projection: its constant is redundant with a / b and stays put
        if s > _REDUNDANT * colnorm[j] and math.isfinite(s):
            any_col = True
            scale[j] = s
            for i in range(n):
                J[j, i] /= s
        else:
            scale[j] = 1.0
            for i in range(n):
                J[j, i] = 0.0
    for j in range(k):
        gj = 0.0
        cn = 0.0
        for i in range(n):
            v = J[j, i]
            gj += v * (a * f[i] + b - y[i])
            cn += v * v
        g[j] = gj
        colnorm[j] = math.sqrt(cn)
        for l in range(j + 1):
            s = 0.0
            for i in range(n):
                s += J[j, i] * J[l, i]
            A[j, l] = s
            A[l, j] = s
    # Marquardt's damping as in MINPACK: the largest norm each column has had
    # so far (``dnorm``, unscaled), so that a constant whose influence has
    # collapsed (a factor of a product going to 0) is not thrown around
    dmax = 0.0
    for j in range(k):
        dmax = max(dmax, A[j, j])
    for j in range(k):
        nj = colnorm[j] * scale[j]
        if math.isfinite(nj) and nj > dnorm[j]:
            dnorm[j] = nj
        r = dnorm[j] / scale[j]
        dj = r * r
        if not (dj >= A[j, j]) or not math.isfinite(dj):
            dj = A[j, j]
        D[j] = max(dj, 1e-15 * dmax, 1e-300)
    return any_col


@_jit
def _solve_damped(A, D, g, lam, h, L):
    """Solve ``(A + lam diag(D)) h = -g`` by Cholesky; False if not positive definite."""
    k = A.shape[0]
    for j in range(k):
        s = A[j, j] + lam * D[j]
        for p in range(j):
            s -= L[j, p] * L[j, p]
        if not (s > 0.0) or not math.isfinite(s):
            return False
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, k):
            s = A[i, j]
            for p in range(j):
                s -= L[i, p] * L[j, p]
            L[i, j] = s / L[j, j]
    for i in range(k):  # L z = -g
        s = -g[i]
        for p in range(i):
            s -= L[i, p] * h[p]
        h[i] = s / L[i, i]
    for i in range(k - 1, -1, -1):  # L^T h = z
        s = h[i]
        for p in range(i + 1, k):
            s -= L[p, i] * h[p]
        h[i] = s / L[i, i]
    for i in range(k):
        if not math.isfinite(h[i]):
            return False
    return True


@_jit
def _fit_kernel(code, arg, value, columns, depth, c0, X, y, use_a, use_b, max_iter):
    n = X.shape[0]
    k = c0.shape[0]
    d = max(depth, 1)
    XT = _gather_columns(X, columns)
    vstack = np.empty((d, n))
    kind = np.zeros(d, dtype=np.int64)
    ref = np.zeros(d, dtype=np.int64)
    sval = np.zeros(d)
    gstack = np.empty((d, k, n))
    has = np.zeros(d, dtype=np.bool_)
    da = np.empty(n)
    db = np.empty(n)
    f = np.empty(n)
    J = np.empty((k, n))
    q = np.empty(n)
    A = np.empty((k, k))
    D = np.empty(k)
    dnorm = np.zeros(k)
    L = np.zeros((k, k))
    g = np.empty(k)
    scale = np.empty(k)
    colnorm = np.empty(k)
    h = np.empty(k)
    c = np.empty(k)
    c_new = np.empty(k)

    if n == 0:
        for j in range(k):
            c[j] = c0[j] if math.isfinite(c0[j]) else 1.0
        return c, 1.0, 0.0, np.inf, False, 0, 0, _STOP_INVALID
    ymean = _mean(y)
    if not math.isfinite(ymean):  # y holds NaN or inf: nothing can be fitted
        for j in range(k):
            c[j] = c0[j] if math.isfinite(c0[j]) else 1.0
        return c, 1.0, 0.0, np.inf, False, 0, 0, _STOP_INVALID

    # a starting point where f is finite: c0, else a few plain guesses
    found = False
    nfev = 0
    njev = 0
    for attempt in range(4):
        if attempt == 0:
            if not _all_finite(c0):
                continue
            c[:] = c0
        elif k == 0:
            break
        else:
            c[:] = (1.0, -1.0, 0.5)[attempt - 1]
        _eval_into(code, arg, value, c, XT, vstack, kind, ref, sval, f)
        nfev += 1
        if _all_finite(f):
            found = True
            break
    if not found:
        for j in range(k):
            c[j] = c0[j] if math.isfinite(c0[j]) else 1.0
        return c, 1.0, 0.0, np.inf, False, nfev, njev, _STOP_INVALID

    a, b, fm, sse = _fit_scale(f, y, ymean, use_a, use_b)
    if k == 0 or max_iter <= 0 or not math.isfinite(sse) or _exact(f, y, a, b):
        return c, a, b, sse / n, True, nfev, njev, _STOP_START

    _jac_into(code, arg, value, c, XT, vstack, gstack, has, da, db, f, J)
    njev += 1
    live = _normal_equations(f, J, y, a, b, fm, use_a, use_b, q, A, D, dnorm, g, scale, colnorm)
    lam = 1e-3
    nu = 2.0
    trials = 0
    stop = _STOP_BUDGET if live else _STOP_FLAT
    while live and trials < max_iter:
        # gradient test: every column (nearly) orthogonal to the residual
        rn = math.sqrt(sse)
        gmax = 0.0
        for j in range(k):
            if colnorm[j] > 0.0:
                gmax = max(gmax, abs(g[j]) / (colnorm[j] * rn))
        if gmax <= _GTOL:
            stop = _STOP_GTOL
            break
        if not _solve_damped(A, D, g, lam, h, L):
            lam *= nu
            nu *= 2.0
            trials += 1
            if lam > 1e20:
                stop = _STOP_DAMPING
                break
            continue
        finite = True
        cnorm = 0.0
        snorm = 0.0
        for j in range(k):
            step = h[j] / scale[j]
            c_new[j] = c[j] + step
            finite = finite and math.isfinite(c_new[j])
            cnorm += c[j] * c[j]
            snorm += step * step
        small = math.sqrt(snorm) <= _XTOL * (math.sqrt(cnorm) + _XTOL)
        if small:
            stop = _STOP_XTOL
            break
        trials += 1
        sse_new = np.inf
        a_new, b_new, fm_new = a, b, fm
        if finite:
            _eval_into(code, arg, value, c_new, XT, vstack, kind, ref, sval, f)
            nfev += 1
            if _all_finite(f):
                a_new, b_new, fm_new, sse_new = _fit_scale(f, y, ymean, use_a, use_b)
        if sse_new < sse:
            pred = 0.0  # predicted SSE reduction of the damped linear model
            for j in range(k):
                pred += h[j] * (lam * D[j] * h[j] - g[j])
            actual = sse - sse_new
            rho = actual / pred if pred > 0.0 else 1.0
            c[:] = c_new
            a = a_new
            b = b_new
            fm = fm_new
            sse_old = sse
            sse = sse_new
            lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            lam = max(lam, 1e-12)
            nu = 2.0
            if _exact(f, y, a, b):
                stop = _STOP_EXACT
                break
            if actual <= _FTOL * sse_old and pred <= _FTOL * sse_old:
                stop = _STOP_FTOL
                break
            if trials >= max_iter:
                break
            _jac_into(code, arg, value, c, XT, vstack, gstack, has, da, db, f, J)
            njev += 1
            live = _normal_equations(f, J, y, a, b, fm, use_a, use_b, q, A, D, dnorm, g, scale, colnorm)
            if not live:
                stop = _STOP_FLAT
        else:
            # shrink the step as MINPACK shrinks its trust region: to the
            # minimiser of the parabola through the SSE, its slope along h and
            # the trial's SSE, as a fraction t in [0.1, 0.5] of the step; for
            # D = diag(A), damping 1 + lam -> (1 + lam) / t does that
            t = 0.1
            if math.isfinite(sse_new):
                slope = 0.0
                for j in range(k):
                    slope += 2.0 * g[j] * h[j]
                beta = sse_new - sse - slope
                if slope < 0.0 and beta > 0.0:
                    t = min(0.5, max(0.1, -slope / (2.0 * beta)))
            lam = max(lam * nu, (1.0 + lam) / t - 1.0)
            nu *= 2.0
            if lam > 1e20:
                stop = _STOP_DAMPING
                break
    return c, a, b, sse / n, True, nfev, njev, stop


def fit_constants(program, c0, X, y, use_a: bool = True, use_b: bool = True, max_iter: int = 100):
    """Fit the constants of ``a * f(x; c) + b`` to ``y`` by Levenberg-Marquardt.

    For each ``c`` the outer ``a`` and ``b`` are solved in closed form
    (variable projection; ``a`` is fixed to 1 unless ``use_a``, ``b`` to 0
    unless ``use_b``; a constant ``f`` gets ``a = 0, b = mean(y)``; plain
    ``a = 1, b = 0`` is kept where rounding makes it fit better).  ``c``
    follows damped Gauss-Newton steps on Kaufman's projected Jacobian (``a J``
    minus its component in the span of the used outer terms; constants that
    only duplicate ``a`` or ``b`` stay put).  The damping is Marquardt's,
    scaled by the largest column norms seen so far as in MINPACK; a step is
    accepted when it lowers the SSE (then the damping drops by Nielsen's
    rule), a rejected step is shrunk to the minimiser of a parabola along it.
    The fit stops on a negligible relative improvement (1e-10), step (1e-12)
    or gradient, on an exact fit (every residual below 1e-15 of its row's
    size) or after ``max_iter`` trial steps.  Everything runs inside numba:
    no warnings, no exceptions, whatever the expression.

    Parameters
    ----------
    program : Program, sequence of str or Expression
        Compiled program or prefix tokens.
    c0 : array-like (k,)
        Starting constants.  When ``f`` is non-finite there (or ``c0`` is),
        ``1``, ``-1`` and ``0.5`` for every constant are tried instead.
    X, y : ndarray
        Data, ``(n, d)`` and ``(n,)``; ``y`` must be finite.
    use_a, use_b : bool
        Fit the outer scale ``a`` / offset ``b``.
    max_iter : int
        Most trial steps: one evaluation of ``f`` each, and an accepted step
        costs one Jacobian evaluation more.  ``0`` gives the closed-form
        ``a, b`` at the start.

    Returns
    -------
    c : ndarray (k,)
        Fitted constants, always finite; the starting point when no step
        improved on it.
    a, b : float
        The outer scale and offset at ``c``.
    mse : float
        ``mean((a f(c) + b - y) ** 2)``; ``inf`` when not finite.
    ok : bool
        False when no starting point with finite ``f`` was found (or ``y`` is
        not finite, or has no rows); then ``a, b, mse = 1, 0, inf``.

    Notes
    -----
    ``_fit_kernel`` (same arguments after the program's arrays) also returns
    the number of evaluations of ``f`` and of the Jacobian and why it stopped
    (``_STOP_*``).
    """
    p = _program(program)
    X = _check_X(p, X)
    c0 = _check_constants(p, c0)
    y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    c, a, b, mse, ok, _, _, _ = _fit_kernel(p.code, p.arg, p.value, p.columns, p.depth, c0, X, y,
                                            bool(use_a), bool(use_b), int(max_iter))
    return c, float(a), float(b), float(mse), bool(ok)
