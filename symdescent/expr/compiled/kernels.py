"""Evaluation and forward-mode Jacobian kernels over a program's postfix walk.

Each operator of the table (:mod:`symdescent.expr.ops`) that has an opcode has two lines here: its value in
:func:`unary_value` or :func:`binary_value`, its partial derivatives in :func:`unary_derivative` or
:func:`binary_derivative`, with the arithmetic of its numpy ``func`` and ``derivative``.  The loops over the
rows call them once per value; numba inlines them.  ``tests/expr/test_operators.py`` checks that every
operator of the table with an opcode evaluates and differentiates here as in numpy.
"""

from __future__ import annotations

import math

import numpy as np

from symdescent.expr.compiled.program import (
    OP_CONST,
    OP_LIT,
    OP_VAR,
    as_program,
    check_constants,
    check_X,
    jit,
)
from symdescent.expr.ops import opcode

# the opcodes of the table's operators, as module globals: numba compiles them in as constants
OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW = (opcode(n) for n in ("add", "sub", "mul", "div", "pow"))
OP_NEG, OP_SQRT, OP_EXP, OP_LOG, OP_SIN, OP_COS = (opcode(n) for n in ("neg", "sqrt", "exp", "log", "sin", "cos"))
OP_TAN, OP_TANH, OP_ASIN, OP_ABS = (opcode(n) for n in ("tan", "tanh", "asin", "abs"))
OP_SQUARE, OP_CUBE, OP_SINH, OP_COSH = (opcode(n) for n in ("square", "cube", "sinh", "cosh"))


# ---------------------------------------------------------------------------
# each operator's value and derivative, for one value
# ---------------------------------------------------------------------------
@jit(inline=True)
def unary_value(op, x):
    """``op(x)``; NaN for an opcode without a line here."""
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
    if op == OP_CUBE:
        return x * x * x
    if op == OP_SINH:
        return math.sinh(x)
    if op == OP_COSH:
        return math.cosh(x)
    return np.nan


@jit(inline=True)
def unary_derivative(op, x, f):
    """``d op(x) / dx``, given ``f = op(x)``."""
    if op == OP_NEG:
        return -1.0
    if op == OP_SQRT:
        return 0.5 / f
    if op == OP_EXP:
        return f
    if op == OP_LOG:
        return 1.0 / x
    if op == OP_SIN:
        return math.cos(x)
    if op == OP_COS:
        return -math.sin(x)
    if op == OP_TAN:
        return 1.0 + f * f
    if op == OP_TANH:
        return 1.0 - f * f
    if op == OP_ASIN:
        return 1.0 / math.sqrt(1.0 - x * x)
    if op == OP_ABS:
        return np.sign(x)
    if op == OP_SQUARE:
        return 2.0 * x
    if op == OP_CUBE:
        return 3.0 * x * x
    if op == OP_SINH:
        return math.cosh(x)
    if op == OP_COSH:
        return math.sinh(x)
    return np.nan


@jit(inline=True)
def binary_value(op, x, z):
    """``op(x, z)``; NaN for an opcode without a line here."""
    if op == OP_ADD:
        return x + z
    if op == OP_SUB:
        return x - z
    if op == OP_MUL:
        return x * z
    if op == OP_DIV:
        return x / z
    if op == OP_POW:
        return x ** z
    return np.nan


@jit(inline=True)
def binary_derivative(op, x, z, f):
    """``(d op / dx, d op / dz)`` at ``(x, z)``, given ``f = op(x, z)``."""
    if op == OP_ADD:
        return 1.0, 1.0
    if op == OP_SUB:
        return 1.0, -1.0
    if op == OP_MUL:
        return z, x
    if op == OP_DIV:
        return 1.0 / z, -x / (z * z)
    if op == OP_POW:
        return z * x ** (z - 1.0), f * math.log(x)
    return np.nan, np.nan


# ---------------------------------------------------------------------------
# one loop over the rows per node
# ---------------------------------------------------------------------------
@jit(inline=True)
def _unary_rows(op, a, out):
    for i in range(out.shape[0]):
        out[i] = unary_value(op, a[i])


@jit
def _unary(op, a, out):
    """``out = op(a)`` row by row (``out`` may be ``a``).

    The operators without a libm call have a loop each with the opcode fixed, which the compiler vectorises
    (twice as fast as a loop that tests the opcode on every row); the others, whose libm call per row costs
    far more than the test, share the last loop.  Which loop runs changes no result."""
    if op == OP_NEG:
        _unary_rows(OP_NEG, a, out)
    elif op == OP_SQRT:
        _unary_rows(OP_SQRT, a, out)
    elif op == OP_ABS:
        _unary_rows(OP_ABS, a, out)
    elif op == OP_SQUARE:
        _unary_rows(OP_SQUARE, a, out)
    elif op == OP_CUBE:
        _unary_rows(OP_CUBE, a, out)
    else:
        _unary_rows(op, a, out)


@jit
def _binary(op, a, b, out):
    """``out = op(a, b)`` row by row (``out`` may be ``a`` or ``b``).

    The binary operators are few enough that the compiler takes the opcode's test out of the loop itself
    (with five, these loops run as fast as one loop per operator)."""
    for i in range(out.shape[0]):
        out[i] = binary_value(op, a[i], b[i])


@jit(inline=True)
def _unary_d_rows(op, a, out, da):
    for i in range(out.shape[0]):
        x = a[i]
        f = unary_value(op, x)
        out[i] = f
        da[i] = unary_derivative(op, x, f)


@jit
def _unary_d(op, a, out, da):
    """``out = op(a)`` and ``da = op'(a)`` (``out`` may be ``a``); the loops as in :func:`_unary`."""
    if op == OP_NEG:
        _unary_d_rows(OP_NEG, a, out, da)
    elif op == OP_SQRT:
        _unary_d_rows(OP_SQRT, a, out, da)
    elif op == OP_ABS:
        _unary_d_rows(OP_ABS, a, out, da)
    elif op == OP_SQUARE:
        _unary_d_rows(OP_SQUARE, a, out, da)
    elif op == OP_CUBE:
        _unary_d_rows(OP_CUBE, a, out, da)
    else:
        _unary_d_rows(op, a, out, da)


@jit
def _binary_d(op, a, b, out, da, db):
    """``out = op(a, b)`` with both partial derivatives (``out`` may alias ``b``)."""
    for i in range(out.shape[0]):
        x = a[i]
        z = b[i]
        f = binary_value(op, x, z)
        out[i] = f
        dx, dz = binary_derivative(op, x, z, f)
        da[i] = dx
        db[i] = dz


@jit
def _binary_sv(op, x, b, out):
    """``out = op(x, b)`` for a scalar first operand."""
    for i in range(out.shape[0]):
        out[i] = binary_value(op, x, b[i])


@jit
def _binary_vs(op, a, z, out):
    """``out = op(a, z)`` for a scalar second operand."""
    for i in range(out.shape[0]):
        out[i] = binary_value(op, a[i], z)


@jit
def copy_into(dst, src):
    """``dst[:] = src`` for 1-d arrays of the same length, as a plain loop.

    numba compiles an array-to-slice assignment with a shape check whose error message needs its string
    formatting machinery: about 8 s of the first run's compilation, for a mismatch that cannot happen here.
    """
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@jit
def gather_columns(X, columns):
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


@jit
def eval_into(code, arg, value, consts, XT, stack, kind, ref, sval, out):
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
        elif arg[t] == 2:  # a binary operator (arg holds an operator's arity)
            ta = sp - 1  # first child on top
            tb = sp - 2  # second child below; the result goes here
            ka = kind[ta]
            kb = kind[tb]
            if ka == _SCALAR and kb == _SCALAR:
                sval[tb] = binary_value(op, sval[ta], sval[tb])
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
                sval[ta] = unary_value(op, sval[ta])
            else:
                va = stack[ta] if ka == _IN_STACK else XT[ref[ta]]
                _unary(op, va, stack[ta])
                kind[ta] = _IN_STACK
    if kind[0] == _SCALAR:
        out[:] = sval[0]
    elif kind[0] == _IN_X:
        copy_into(out, XT[ref[0]])
    else:
        copy_into(out, stack[0])


@jit
def jac_into(code, arg, value, consts, XT, vstack, gstack, has, da, db, out, J):
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
            copy_into(vstack[sp], XT[arg[t]])
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
        elif arg[t] == 2:
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
    copy_into(out, vstack[0])
    if has[0]:
        for j in range(k):
            copy_into(J[j], gstack[0, j])
    else:
        J[:, :] = 0.0


@jit
def _evaluate_kernel(code, arg, value, columns, depth, consts, X):
    n = X.shape[0]
    d = max(depth, 1)
    out = np.empty(n)
    eval_into(code, arg, value, consts, gather_columns(X, columns), np.empty((d, n)),
               np.zeros(d, dtype=np.int64), np.zeros(d, dtype=np.int64), np.zeros(d), out)
    return out


#: the compiled evaluation of a program's arrays, for the other kernels to call
evaluate_kernel = _evaluate_kernel


@jit
def _jacobian_kernel(code, arg, value, columns, depth, consts, X):
    n = X.shape[0]
    k = consts.shape[0]
    d = max(depth, 1)
    out = np.empty(n)
    J = np.empty((k, n))
    jac_into(code, arg, value, consts, gather_columns(X, columns), np.empty((d, n)),
              np.empty((d, k, n)), np.zeros(d, dtype=np.bool_), np.empty(n), np.empty(n), out, J)
    return out, J


# ---------------------------------------------------------------------------
# public evaluation API
# ---------------------------------------------------------------------------
def evaluate(program, constants, X) -> np.ndarray:
    """Evaluate ``program`` (a :class:`CompiledProgram` or prefix tokens) on the rows of ``X``.

    Returns an ``(n,)`` float64 array; NaN / inf mark domain errors and
    overflow, as in :func:`~symdescent.expr.evaluate.evaluate_tokens`.
    """
    p = as_program(program)
    X = check_X(p, X)
    c = check_constants(p, constants)
    return _evaluate_kernel(p.code, p.arg, p.value, p.columns, p.depth, c, X)


def evaluate_jacobian(program, constants, X) -> tuple[np.ndarray, np.ndarray]:
    """Values ``(n,)`` and Jacobian ``(n, k)`` w.r.t. the ``k`` constants.

    Matches :func:`~symdescent.expr.evaluate.evaluate_with_jacobian`, including
    where it is non-finite.
    """
    p = as_program(program)
    X = check_X(p, X)
    c = check_constants(p, constants)
    f, J = _jacobian_kernel(p.code, p.arg, p.value, p.columns, p.depth, c, X)
    return f, np.ascontiguousarray(J.T)
