"""Compiled (numba) evaluation, Jacobian and constant fitting of prefix expressions.

The reference implementations in :mod:`symdescent.expr.evaluate` and
:mod:`symdescent.expr.fit` walk the token list in Python and call one numpy
function per node; for the few hundred rows the search fits on, that Python
overhead dominates.  This module turns a prefix token tuple once into integer
arrays (a :class:`CompiledProgram`) and runs everything else -- evaluation, the
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

import threading
from typing import Callable

import numpy as np

from symdescent.expr.compiled.kernels import evaluate, evaluate_jacobian
from symdescent.expr.compiled.lm import fit_constants, fit_scaled, scaled_mse
from symdescent.expr.compiled.pareto import nondominated_layers
from symdescent.expr.compiled.program import CompiledProgram, compile_program, jit

__all__ = ["CompiledProgram", "compile_program", "evaluate", "evaluate_jacobian", "fit_constants", "fit_scaled", "scaled_mse",
           "warm_up", "jit"]


_warm = threading.Lock()
_warmed: list[bool] = []  # one entry once this process has the kernels


def warm_up(notify: Callable[[str], None] | None = None, *, after: float = 3.0) -> None:
    """Compile (or load from numba's on-disk cache) the kernels a fit uses, once per process.

    A search calls this as it is set up; a first run's JIT compilation (about 17 s of CPU time, once per
    installation) is part of that fit's time budget (:meth:`Search.start_clock
    <symdescent.search.Search.start_clock>`); ``symdescent warmup`` does it ahead (a Docker image's build).
    What a fit runs is compiled here: evaluation, the Jacobian (the constants' standard errors), the constant fit, the search's
    fit-and-choose step and the genetic engine's non-dominated sorting (an island worker compiling that in its first round
    spent a short budget's whole search phase on it).

    ``notify`` is called with a one-line message when the work takes longer than ``after`` seconds,
    which is when it compiles rather than loads from the cache (loading takes about a second).
    """
    with _warm:
        if _warmed:
            return
        timer = None
        if notify is not None:
            timer = threading.Timer(after, notify, ["compiling the numba kernels (once per installation: 15-40 s)"])
            timer.daemon = True
            timer.start()
        try:
            X = np.linspace(1.0, 2.0, 4)[:, None]
            p = compile_program(("mul", "C", "exp", "x0"))
            c = np.ones(1)
            evaluate(p, c, X)
            evaluate_jacobian(p, c, X)
            fit_constants(p, c, X, X[:, 0], True, True, 2)
            fit_scaled(p, c, X, X[:, 0], True, True, 2, 0.1, score=(X, X[:, 0], None))
            scaled_mse(p, c, X, X[:, 0], 1.0, 0.0)
            nondominated_layers(np.zeros((2, 3)))
        finally:
            if timer is not None:
                timer.cancel()
        _warmed.append(True)
