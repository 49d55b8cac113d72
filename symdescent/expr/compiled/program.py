"""Compiled programs: prefix tokens compiled once into integer arrays, and the numba decorator."""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import numba
import numpy as np

from symdescent.errors import ExpressionError
from symdescent.expr import ops
from symdescent.expr.ops import FIRST_OPCODE


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


#: ``(table, its size, {token: (opcode, arity or column, literal value)})``: the compiled form of each token
#: seen so far, rebuilt when the operator table changes (a variable's entry holds its column, and a
#: constant's opcode alone: its index is its position among the constants)
_tokens: tuple = (None, -1, {})


def _token_forms() -> dict:
    global _tokens
    table, size, forms = _tokens
    if table is not ops.OPERATORS or size != dict.__len__(ops.OPERATORS):
        forms = {ops.CONST: (OP_CONST, 0, 0.0)}
        forms.update({name: (OP_LIT, 0, v) for name, v in ops.LITERALS.items()})
        _tokens = (ops.OPERATORS, dict.__len__(ops.OPERATORS), forms)
    return forms


def _token_form(forms: dict, tok: str, tokens: tuple) -> tuple:
    """The compiled form of ``tok``, one of ``tokens`` (added to ``forms``); ExpressionError for an unknown
    token or an operator without a compiled kernel."""
    op = ops.OPERATORS.get(tok)
    if op is not None:
        if op.opcode is None:
            raise ExpressionError(f"operator {tok!r} has no compiled kernel; evaluate it with "
                                  "symdescent.expr.evaluate")
        form = (op.opcode, op.arity, 0.0)
    elif ops.is_variable(tok):
        form = (OP_VAR, ops.variable_index(tok), 0.0)
    else:  # an unknown token, or a user operator's: validate_prefix names the first with its position
        from symdescent.expr.expression import validate_prefix

        validate_prefix(tokens)
        raise ExpressionError(f"operator {tok!r} has no compiled kernel; evaluate it with symdescent.expr.evaluate")
    forms[tok] = form
    return form


@functools.lru_cache(maxsize=16384)
def _compile_cached(tokens: tuple, n_inlined: int | None = None) -> CompiledProgram:
    """The program of prefix ``tokens``; with ``n_inlined`` (the expression's number of constants), of an
    inlined sequence, whose leaves may also be an ``int`` (a constant by index) and a ``float`` (a number)."""
    forms = _token_forms()
    m = len(tokens)
    code = [0] * m
    arg = [0] * m
    value = [0.0] * m
    ci = 0
    used: dict[int, None] = {}
    places: list[int] = []
    sp = depth = 0
    ok = m > 0
    for t, tok in enumerate(reversed(tokens)):  # postfix order; sp: the stack depth a postfix walk reaches
        if isinstance(tok, str):
            form = forms.get(tok) or _token_form(forms, tok, tokens)
            opcode, a, v = form
            if opcode >= FIRST_OPCODE:
                code[t], arg[t] = opcode, a
                if sp < a:
                    ok = False
                sp -= a - 1
                continue
            code[t] = opcode
            if opcode == OP_VAR:
                arg[t] = a
                used[a] = None
            elif opcode == OP_LIT:
                value[t] = v
            else:  # a placeholder: numbered from the end, fixed below
                arg[t] = ci
                ci += 1
                places.append(t)
        elif isinstance(tok, float):  # an inlined body's number
            code[t], value[t] = OP_LIT, tok
        else:  # an inlined constant, by index
            code[t], arg[t] = OP_CONST, tok
        sp += 1
        depth = max(depth, sp)
    if not ok or sp != 1:
        from symdescent.expr.expression import validate_prefix

        validate_prefix(tokens)  # raises with the position; a sequence it accepts is one tree
        raise ExpressionError("incomplete expression")
    n_const = ci if n_inlined is None else n_inlined
    for t in places:  # placeholders were counted from the end of the prefix: the last is ``n_const - 1``
        arg[t] = n_const - 1 - arg[t]
    columns = sorted(used)
    if columns and columns[-1] != len(columns) - 1:  # the kernels read a gathered copy of these columns
        slot = {col: i for i, col in enumerate(columns)}
        for t in range(m):
            if code[t] == OP_VAR:
                arg[t] = slot[arg[t]]
    n_vars = columns[-1] + 1 if columns else 0
    return CompiledProgram(tokens, np.array(code, dtype=np.int64), np.array(arg, dtype=np.int64),
                           np.array(value, dtype=np.float64),
                           np.array(columns, dtype=np.int64), depth, n_const, n_vars)


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
