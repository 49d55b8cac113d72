"""Non-dominated sorting of a population's objectives, compiled: the genetic engine's survival step."""

from __future__ import annotations

import numpy as np

from symdescent.expr.compiled.program import jit


@jit
def nondominated_layers(obj):
    """Layer index (0 = non-dominated) of each row of ``obj`` (float64, C-contiguous, minimised); see
    :func:`symdescent.gp.nondominated_layers`. Here with the other kernels, so that the warm-up compiles it."""
    n, m = obj.shape
    dominates = np.zeros((n, n), dtype=np.bool_)  # dominates[i, j]: i dominates j
    count = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for j in range(n):
            le = True
            lt = False
            for k in range(m):
                if not obj[i, k] <= obj[j, k]:
                    le = False
                    break
                if obj[i, k] < obj[j, k]:
                    lt = True
            if le and lt:
                dominates[i, j] = True
                count[j] += 1
    layer = np.full(n, -1, dtype=np.int64)
    k = 0
    while True:
        current = np.flatnonzero(count == 0)
        if current.size == 0:
            break
        for c in current:
            layer[c] = k
        for c in current:
            for j in range(n):
                if dominates[c, j]:
                    count[j] -= 1
        for j in range(n):
            if layer[j] >= 0:
                count[j] = -1
        k += 1
    return layer
