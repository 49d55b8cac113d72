"""Evaluation and forward-mode Jacobian kernels over a program's postfix walk."""

from __future__ import annotations

import math

import numpy as np

from symdescent.expr.compiled.program import (
    OP_ABS,
    OP_ADD,
    OP_ASIN,
    OP_CONST,
    OP_COS,
    OP_DIV,
    OP_EXP,
    OP_LIT,
    OP_LOG,
    OP_MUL,
    OP_NEG,
    OP_SIN,
    OP_SQRT,
    OP_SQUARE,
    OP_SUB,
    OP_TAN,
    OP_TANH,
    OP_VAR,
    as_program,
    check_constants,
    check_X,
    jit,
)


@jit
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


@jit
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


@jit
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


@jit
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


@jit
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


@jit
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


@jit
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


@jit
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
