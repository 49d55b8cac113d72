"""Compiled programs: prefix tokens compiled once into integer arrays, and the numba decorator."""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import numba
import numpy as np

from symdescent.errors import ExpressionError
from symdescent.expr import ops


def _outside_package_cache():
    """A numba ``FunctionCache`` class that never writes beside the package's source files.

    numba's default (``cache=True``) writes into ``__pycache__`` next to the source when that is writable.
    For an installed package that is ``site-packages/symdescent/expr/compiled/__pycache__``: files pip does
    not know of, so ``pip uninstall`` leaves the folder behind, and the leftover ``symdescent`` folder then
    shadows an editable install of the same name as a namespace package.  This cache keeps numba's other
    two places, in numba's order: ``NUMBA_CACHE_DIR`` when the user set it, else the user-wide cache
    (``~/.cache/numba`` or ``$XDG_CACHE_HOME/numba``, one subfolder per source folder, so a site-packages
    install and a checkout never share entries).  None when this numba lacks the classes.

    An entry is also stamped with :func:`kernel_stamp`: numba checks only the source file of the function
    itself, so without it a function of ``lm.py`` would keep the kernels of ``kernels.py`` it was compiled
    with (a new operator's lines among them) and every function would keep the opcodes of the table.
    """
    from numba.core import caching

    def pick(*names):
        return next((getattr(caching, n) for n in names if hasattr(caching, n)), None)

    def stamped(locator):
        def get_source_stamp(self):
            return locator.get_source_stamp(self), kernel_stamp()

        return type(f"Stamped{locator.__name__}", (locator,), {"get_source_stamp": get_source_stamp})

    impl, cache = pick("CompileResultCacheImpl", "_CompileResultCacheImpl"), pick("FunctionCache")
    locators = [pick("UserProvidedCacheLocator", "_UserProvidedCacheLocator"),
                pick("UserWideCacheLocator", "_UserWideCacheLocator")]
    if impl is None or cache is None or None in locators:
        return None
    impl = type("OutsidePackageCacheImpl", (impl,), {"_locator_classes": [stamped(c) for c in locators]})
    return type("OutsidePackageCache", (cache,), {"_impl_class": impl})


@functools.cache
def kernel_stamp() -> str:
    """A digest of what compiled code depends on beyond its own file: the sources of this package's modules
    and the opcode and arity of each operator of the table."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(repr(sorted((op.name, op.opcode, op.arity) for op in ops.OPERATORS.values()
                         if op.opcode is not None)).encode())
    return h.hexdigest()


_CACHE = _outside_package_cache()


def jit(fn=None, *, inline: bool = False):
    """``numba.njit``, cached on disk outside the package (:func:`_outside_package_cache`).

    Without a writable cache location (or a numba whose cache classes moved) the function is compiled per
    process instead.  ``error_model="numpy"`` makes ``x / 0`` give inf/NaN instead of raising
    ``ZeroDivisionError``.  ``@jit(inline=True)``: numba inlines the function into every compiled caller
    (``inline="always"``), for the kernels' per-value functions that a loop calls once per row.
    """
    if fn is None:
        return functools.partial(jit, inline=inline)
    dispatcher = numba.njit(nogil=True, error_model="numpy", inline="always" if inline else "never")(fn)
    if _CACHE is not None:
        try:
            # what njit(cache=True) does (Dispatcher.enable_caching), with the locators above
            dispatcher._cache = _CACHE(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            pass
    return dispatcher


# ---------------------------------------------------------------------------
# opcodes: the leaves here; each operator's is its ops.Operator.opcode
# ---------------------------------------------------------------------------
OP_VAR = 0
OP_CONST = 1
OP_LIT = 2


class CompiledProgram(NamedTuple):
    """A prefix expression compiled to arrays, in postfix (execution) order.

    Attributes
    ----------
    tokens : tuple of str
        The prefix tokens it was compiled from.
    code : int64 array (m,)
        Opcodes (``OP_*``), children before parents.
    arg : int64 array (m,)
        For ``OP_VAR`` the index into ``columns``, for ``OP_CONST`` the
        constant's index, for an operator its arity, else 0.
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


def compile_program(tokens: Sequence[str]) -> CompiledProgram:
    """Compile prefix ``tokens`` into a :class:`CompiledProgram` (cached by tokens).

    Each operator becomes its :attr:`~symdescent.expr.ops.Operator.opcode`; a
    user operator defined by a formula (:mod:`symdescent.expr.custom`) is
    inlined: the program is that of the expression with its body written out
    (:func:`~symdescent.expr.custom.inline`), the argument's constants counted once.
    Raises ``ValueError`` (an :class:`~symdescent.errors.ExpressionError`) for
    unknown tokens, an incomplete sequence or an operator without a compiled kernel.

    >>> p = compile_program(("add", "x1", "C"))
    >>> p.code.tolist(), p.arg.tolist(), p.columns.tolist(), p.depth, p.n_constants
    ([1, 0, 3], [0, 0, 2], [1], 2, 1)
    """
    from symdescent.expr.custom import inline

    tokens = tuple(tokens)
    inlined = inline(tokens)
    if inlined is None:
        return _compile_cached(tokens)
    from symdescent.expr.expression import validate_prefix

    validate_prefix(tokens)
    return _compile_cached(inlined, tokens.count(ops.CONST))


@functools.lru_cache(maxsize=16384)
def _compile_cached(tokens: tuple, n_inlined: int | None = None) -> CompiledProgram:
    """The program of prefix ``tokens``; with ``n_inlined`` (the expression's number of constants), of an
    inlined sequence, whose leaves may also be an ``int`` (a constant by index) and a ``float`` (a number)."""
    from symdescent.expr.expression import validate_prefix

    if n_inlined is None:
        validate_prefix(tokens)
    m = len(tokens)
    code = np.empty(m, dtype=np.int64)
    arg = np.zeros(m, dtype=np.int64)
    value = np.zeros(m, dtype=np.float64)
    n_const = tokens.count(ops.CONST) if n_inlined is None else n_inlined
    ci = n_const
    columns = sorted({ops.variable_index(t) for t in tokens if isinstance(t, str) and ops.is_variable(t)})
    slot = {col: i for i, col in enumerate(columns)}
    sp = depth = 0
    for t, tok in enumerate(reversed(tokens)):
        op = ops.OPERATORS.get(tok) if isinstance(tok, str) else None
        if op is not None:
            if op.opcode is None:
                raise ExpressionError(f"operator {tok!r} has no compiled kernel; evaluate it with "
                                      "symdescent.expr.evaluate")
            code[t], arg[t] = op.opcode, op.arity
            sp -= op.arity - 1
            continue
        if isinstance(tok, float):  # an inlined body's number
            code[t], value[t] = OP_LIT, tok
        elif isinstance(tok, int):  # an inlined constant, by index
            code[t], arg[t] = OP_CONST, tok
        elif tok == ops.CONST:
            ci -= 1
            code[t], arg[t] = OP_CONST, ci
        elif tok in ops.LITERALS:
            code[t], value[t] = OP_LIT, ops.LITERALS[tok]
        else:
            code[t], arg[t] = OP_VAR, slot[ops.variable_index(tok)]
        sp += 1
        depth = max(depth, sp)
    n_vars = columns[-1] + 1 if columns else 0
    return CompiledProgram(tokens, code, arg, value, np.array(columns, dtype=np.int64), depth, n_const, n_vars)


def as_program(program) -> CompiledProgram:
    """A :class:`CompiledProgram` from a CompiledProgram, prefix tokens or an Expression."""
    if isinstance(program, CompiledProgram):
        return program
    return compile_program(getattr(program, "tokens", program))


def check_X(program: CompiledProgram, X) -> np.ndarray:
    """``X`` as a C-contiguous float64 array; ValueError unless it is 2-D with every column ``program`` reads."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, columns), got shape {X.shape}")
    if X.shape[1] < program.n_variables:
        raise ValueError(
            f"expression uses x{program.n_variables - 1} but X has only {X.shape[1]} column(s)"
        )
    return X


def check_constants(program: CompiledProgram, constants) -> np.ndarray:
    """``constants`` as a contiguous float64 vector; ValueError unless it holds one value per placeholder."""
    c = np.ascontiguousarray(constants, dtype=np.float64).reshape(-1)
    if c.shape[0] != program.n_constants:
        raise ValueError(
            f"expression has {program.n_constants} constant(s) but {c.shape[0]} value(s) were given"
        )
    return c


# ---------------------------------------------------------------------------
# kernels: one loop over the rows per node
# ---------------------------------------------------------------------------
