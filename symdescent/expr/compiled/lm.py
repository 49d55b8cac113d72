"""Levenberg-Marquardt on the constants with the linear scale and offset projected out."""

from __future__ import annotations

import math

import numpy as np

from symdescent.expr.compiled.kernels import copy_into, eval_into, evaluate_kernel, gather_columns, jac_into
from symdescent.expr.compiled.program import as_program, check_constants, check_X, jit


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
_STOP_HOPELESS = 9  # past the probe's trials, the loss still above the caller's give-up level
_NO_WEIGHTS = np.empty(0)  # the weights argument of an unweighted fit


@jit
def _all_finite(v):
    for i in range(v.shape[0]):
        if not math.isfinite(v[i]):
            return False
    return True


@jit
def _weight(w, i):
    """Row ``i``'s weight: ``w[i]``, or exactly 1.0 when ``w`` is empty (unweighted).

    Every sum below is written once, weighted; an unweighted fit passes the
    empty :data:`_NO_WEIGHTS` and gets the plain sums bit for bit, since a
    product with 1.0 is exact and a sum of n ones is n.
    """
    return w[i] if w.shape[0] > 0 else 1.0


@jit
def _mean(v, w):
    """``sum(w v) / sum(w)`` (the plain mean when ``w`` is empty), with a second pass
    on pre-divided terms when the sum overflows."""
    n = v.shape[0]
    s = 0.0
    t = 0.0
    for i in range(n):
        s += _weight(w, i) * v[i]
        t += _weight(w, i)
    m = s / t
    if not math.isfinite(m):  # the sum overflowed
        s = 0.0
        for i in range(n):
            if w.shape[0] > 0:
                s += w[i] / t * v[i]
            else:
                s += v[i] / n
        m = s
    return m


@jit
def _scale(f, y, ymean, use_a, use_b, w):
    """Closed-form ``a, b`` for ``a f + b ~ y`` (1 / 0 when unused) and ``f``'s mean.

    ``a, b`` minimise ``sum(w (a f + b - y)**2)`` (plain least squares when
    ``w`` is empty); ``ymean`` and the returned mean of ``f`` are weighted
    means, and rows of weight 0 do not count towards ``f``'s spread.  A
    constant ``f`` (spread below ``_DEGENERATE`` times its size) gives
    ``a = 0, b = mean(y)`` when both are used; a non-finite solution gives the
    same.  Sums are taken on ``f`` divided by its largest entry so that huge
    or tiny values neither overflow nor underflow.
    """
    n = f.shape[0]
    if use_a and use_b:
        fm = _mean(f, w)
        s = 0.0
        big = abs(fm)
        for i in range(n):
            if _weight(w, i) > 0.0:
                s = max(s, abs(f[i] - fm))
                big = max(big, abs(f[i]))
        if not (s > _DEGENERATE * big) or not math.isfinite(s):
            return 0.0, ymean, fm
        num = 0.0
        den = 0.0
        for i in range(n):
            u = (f[i] - fm) / s
            num += _weight(w, i) * u * (y[i] - ymean)
            den += _weight(w, i) * u * u
        a = num / den / s
        b = ymean - a * fm
        if not (math.isfinite(a) and math.isfinite(b)):
            return 0.0, ymean, fm
        return a, b, fm
    if use_a:
        s = 0.0
        for i in range(n):
            if _weight(w, i) > 0.0:
                s = max(s, abs(f[i]))
        if not (s > 0.0) or not math.isfinite(s):
            return 0.0, 0.0, 0.0
        num = 0.0
        den = 0.0
        for i in range(n):
            u = f[i] / s
            num += _weight(w, i) * u * y[i]
            den += _weight(w, i) * u * u
        a = num / den / s
        if not math.isfinite(a):
            return 0.0, ymean, 0.0
        return a, 0.0, 0.0
    if use_b:
        b = 0.0
        t = 0.0
        for i in range(n):
            b += _weight(w, i) * (y[i] - f[i])
            t += _weight(w, i)
        b /= t
        if not math.isfinite(b):
            return 0.0, ymean, 0.0
        return 1.0, b, 0.0
    return 1.0, 0.0, 0.0


@jit
def _sse(f, y, a, b, w):
    """``sum(w (a f + b - y)**2)`` (plain when ``w`` is empty); ``inf`` when not finite."""
    s = 0.0
    for i in range(f.shape[0]):
        r = a * f[i] + b - y[i]
        s += _weight(w, i) * r * r
    return s if math.isfinite(s) else np.inf


@jit
def _exact(f, y, a, b, w):
    """True when every residual of a row of positive weight is at the rounding level of its own row."""
    for i in range(f.shape[0]):
        p = a * f[i]
        if _weight(w, i) > 0.0 and not abs(p + b - y[i]) <= _EXACT * (abs(y[i]) + abs(p) + abs(b)):
            return False
    return True


@jit
def _fit_scale(f, y, ymean, use_a, use_b, w):
    """``a, b, mean(f), SSE`` at the closed-form scaling, or at ``a = 1, b = 0``
    when that is no worse (weighted by ``w``; empty: unweighted).

    The plain terms win only where rounding spoils the closed form: when ``y``
    spans many orders of magnitude, ``a`` and ``b`` carry errors of a few ulps
    of the largest values, which can exceed the whole residual of an exact
    fit; without the plain terms the SSE would be rounding noise there and
    the fit could not find the exact constants.
    """
    a, b, fm = _scale(f, y, ymean, use_a, use_b, w)
    sse = _sse(f, y, a, b, w)
    if (use_a or use_b) and (a != 1.0 or b != 0.0):
        plain = _sse(f, y, 1.0, 0.0, w)
        if plain <= sse:
            return 1.0, 0.0, fm, plain
    return a, b, fm, sse


@jit
def _normal_equations(f, J, y, a, b, fm, use_a, use_b, q, A, D, dnorm, g, scale, colnorm, sw):
    """Kaufman's projected Jacobian, column-scaled, as normal equations.

    With weights, ``sw`` holds their square roots (empty: unweighted): every
    row of the Jacobian and of the residual is multiplied by its ``sw``, and
    the outer terms' span is ``{sw f, sw}`` (the standard reduction of
    weighted to plain least squares).

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
            v = a * J[j, i] * _weight(sw, i)
            if not math.isfinite(v):
                v = 0.0
            J[j, i] = v
            s = max(s, abs(v))
        colnorm[j] = s  # size before the projection
    # orthonormal basis of the outer terms: sw / |sw| (1 / sqrt(n) unweighted), then sw f (centred if 1 is used)
    if use_b:
        nw = 0.0
        for i in range(n):
            nw += _weight(sw, i) * _weight(sw, i)
        inv = 1.0 / math.sqrt(nw)
        for j in range(k):
            d = 0.0
            for i in range(n):
                d += J[j, i] * _weight(sw, i)
            d *= inv
            for i in range(n):
                J[j, i] -= d * inv * _weight(sw, i)
    if use_a and a != 0.0:
        c = fm if use_b else 0.0
        s = 0.0
        for i in range(n):
            s = max(s, abs(f[i] - c))
        if s > 0.0 and math.isfinite(s):
            nrm = 0.0
            for i in range(n):
                q[i] = (f[i] - c) / s * _weight(sw, i)
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
            gj += v * _weight(sw, i) * (a * f[i] + b - y[i])
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


@jit
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


@jit
def _fit_kernel(code, arg, value, columns, depth, c0, X, y, use_a, use_b, max_iter, w, give_up, probe):
    n = X.shape[0]
    k = c0.shape[0]
    sw = np.sqrt(w)  # w: the rows' weights, or empty (unweighted)
    d = max(depth, 1)
    XT = gather_columns(X, columns)
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
    ymean = _mean(y, w)
    wsum = 0.0  # the SSE's divisor: n without weights
    for i in range(n):
        wsum += _weight(w, i)
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
            copy_into(c, c0)
        elif k == 0:
            break
        else:
            c[:] = (1.0, -1.0, 0.5)[attempt - 1]
        eval_into(code, arg, value, c, XT, vstack, kind, ref, sval, f)
        nfev += 1
        if _all_finite(f):
            found = True
            break
    if not found:
        for j in range(k):
            c[j] = c0[j] if math.isfinite(c0[j]) else 1.0
        return c, 1.0, 0.0, np.inf, False, nfev, njev, _STOP_INVALID

    a, b, fm, sse = _fit_scale(f, y, ymean, use_a, use_b, w)
    exact = _exact(f, y, a, b, w)
    if k == 0 or max_iter <= 0 or not math.isfinite(sse) or exact:
        return c, a, b, sse / wsum, True, nfev, njev, _STOP_START

    jac_into(code, arg, value, c, XT, vstack, gstack, has, da, db, f, J)
    njev += 1
    live = _normal_equations(f, J, y, a, b, fm, use_a, use_b, q, A, D, dnorm, g, scale, colnorm, sw)
    lam = 1e-3
    nu = 2.0
    trials = 0
    stop = _STOP_BUDGET if live else _STOP_FLAT
    hopeless = give_up * wsum  # the give-up level as an SSE (inf: never)
    while live and trials < max_iter:
        if trials >= probe and sse > hopeless:
            stop = _STOP_HOPELESS
            break
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
            eval_into(code, arg, value, c_new, XT, vstack, kind, ref, sval, f)
            nfev += 1
            if _all_finite(f):
                a_new, b_new, fm_new, sse_new = _fit_scale(f, y, ymean, use_a, use_b, w)
        if sse_new < sse:
            pred = 0.0  # predicted SSE reduction of the damped linear model
            for j in range(k):
                pred += h[j] * (lam * D[j] * h[j] - g[j])
            actual = sse - sse_new
            rho = actual / pred if pred > 0.0 else 1.0
            copy_into(c, c_new)
            a = a_new
            b = b_new
            fm = fm_new
            sse_old = sse
            sse = sse_new
            lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            lam = max(lam, 1e-12)
            nu = 2.0
            if _exact(f, y, a, b, w):
                stop = _STOP_EXACT
                break
            if actual <= _FTOL * sse_old and pred <= _FTOL * sse_old:
                stop = _STOP_FTOL
                break
            if trials >= max_iter:
                break
            jac_into(code, arg, value, c, XT, vstack, gstack, has, da, db, f, J)
            njev += 1
            live = _normal_equations(f, J, y, a, b, fm, use_a, use_b, q, A, D, dnorm, g, scale, colnorm, sw)
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
    return c, a, b, sse / wsum, True, nfev, njev, stop


@jit
def _choose_scaling(f, y, w, a, b, beta):
    """The outer terms of ``a f + b`` worth their parameter: ``(a, b, mse, constant)``.

    The rule :func:`symdescent.expr.fit.fit_expression` states, compiled (the
    numpy reference path of :mod:`symdescent.expr.fit` writes it for
    expressions without a compiled form): dropping ``k`` fitted terms is taken when the mean squared error
    rises by at most ``(1 + beta)**k`` (plus a rounding floor); the most
    terms dropped win, then the lowest error.  ``constant``: ``f`` is constant
    and ``a`` is 0, so the model is the mean of ``y`` alone.
    """
    n = f.shape[0]
    wsum = 0.0
    for i in range(n):
        wsum += _weight(w, i)
    ym = _mean(y, w)
    if a == 0.0:
        lo = f[0] if n else 0.0
        hi = lo
        for i in range(n):
            lo = min(lo, f[i])
            hi = max(hi, f[i])
        if lo == hi:
            s = 0.0
            for i in range(n):
                r = ym - y[i]
                s += _weight(w, i) * r * r
            m = s / wsum
            return 0.0, ym, (m if math.isfinite(m) else np.inf), True
    full = _sse(f, y, a, b, w) / wsum
    var = 0.0
    for i in range(n):
        d = y[i] - ym
        var += _weight(w, i) * d * d
    floor = 1e-14 * (var / wsum + ym * ym * 1e-6)
    best_k, best_m, best_a, best_b = 0, full, a, b
    found = False
    for option in range(3):
        if option == 0:
            if not (a != 1.0 and b != 0.0):
                continue
            k, at, bt = 2, 1.0, 0.0
        elif option == 1:
            if not a != 1.0:
                continue
            bt = 0.0
            if b != 0.0:
                t = 0.0
                for i in range(n):
                    t += _weight(w, i) * (y[i] - f[i])
                bt = t / wsum
            k, at = 1, 1.0
        else:
            if not b != 0.0:
                continue
            num = 0.0
            den = 0.0
            for i in range(n):
                num += _weight(w, i) * f[i] * y[i]
                den += _weight(w, i) * f[i] * f[i]
            at = num / den if a != 1.0 and den > 1e-300 else a
            k, bt = 1, 0.0
        m = _sse(f, y, at, bt, w) / wsum
        if m <= full * (1.0 + beta) ** k + floor:
            if (not found or k > best_k or (k == best_k and (m < best_m or (m == best_m and (at < best_a or (
                    at == best_a and bt < best_b)))))):
                best_k, best_m, best_a, best_b = k, m, at, bt
                found = True
    return best_a, best_b, best_m, False


@jit
def _fit_choose_kernel(code, arg, value, columns, depth, c0, X, y, use_a, use_b, max_iter, w, beta, X2, y2, w2,
                       give_up, probe):
    stop = _STOP_START
    if max_iter <= 0 or c0.shape[0] == 0:  # no fit: the constants as they are (no other starting points)
        c = c0.copy()
        f = evaluate_kernel(code, arg, value, columns, depth, c, X)
        if X.shape[0] == 0 or not _all_finite(f) or not _all_finite(y):
            return c, 1.0, 0.0, np.inf, False, False, np.inf, _STOP_INVALID
        a, b, fm, sse = _fit_scale(f, y, _mean(y, w), use_a, use_b, w)
    else:
        c, a, b, mse, ok, nfev, njev, stop = _fit_kernel(code, arg, value, columns, depth, c0, X, y, use_a,
                                                         use_b, max_iter, w, give_up, probe)
        if not ok:
            return c, 1.0, 0.0, np.inf, False, False, np.inf, stop
        f = evaluate_kernel(code, arg, value, columns, depth, c, X)
        if not _all_finite(f):
            return c, 1.0, 0.0, np.inf, False, False, np.inf, _STOP_INVALID
    a, b, mse, constant = _choose_scaling(f, y, w, a, b, beta)
    if X2.shape[0] == 0:  # scored on the fitting rows
        return c, a, b, mse, True, constant, mse, stop
    # the loss of the model as it is written (``b``, or ``a f + b`` with the terms kept) on the scoring rows
    wsum = 0.0
    for i in range(y2.shape[0]):
        wsum += _weight(w2, i)
    if constant:
        s = 0.0
        for i in range(y2.shape[0]):
            r = b - y2[i]
            s += _weight(w2, i) * r * r
        sse2 = s if math.isfinite(s) else np.inf
    else:
        sse2 = _sse(evaluate_kernel(code, arg, value, columns, depth, c, X2), y2, a, b, w2)
    return c, a, b, mse, True, constant, sse2 / wsum, stop


@jit
def _scaled_mse_kernel(code, arg, value, columns, depth, c, X, y, a, b, w):
    f = evaluate_kernel(code, arg, value, columns, depth, c, X)
    wsum = 0.0
    for i in range(f.shape[0]):
        wsum += _weight(w, i)
    return _sse(f, y, a, b, w) / wsum


def _target(X, y):
    y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    return y


def _weights(sample_weight, n):
    if sample_weight is None:
        return _NO_WEIGHTS
    w = np.ascontiguousarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"y has {n} rows but sample_weight has {w.shape[0]}")
    return w


def fit_scaled(program, c0, X, y, use_a: bool, use_b: bool, max_iter: int, beta: float, sample_weight=None,
               score=None, give_up: float = math.inf, probe: int = 0):
    """:func:`fit_constants`, then the outer terms worth their parameter, in one compiled call.

    Returns ``(c, a, b, mse, valid, constant, score_mse, abandoned)``: the fitted
    constants, the outer scale and offset kept (``a = 1``, ``b = 0`` where
    dropped), the mean squared error of ``a f(x; c) + b`` on these rows,
    whether ``f`` is finite there, whether the model is the constant ``b``
    alone (``f`` constant), and the mean squared error of that model on the
    scoring rows ``score = (X, y, sample_weight or None)`` (``mse`` itself
    without them; ``inf`` where not finite there): the same number as
    :func:`scaled_mse` of the written-out model, without compiling it.
    ``give_up`` (a mean squared error on these rows) and ``probe`` (trial
    steps): once ``probe`` trials are spent, the fit stops while its error is
    still above ``give_up`` (a candidate its caller would not keep); the
    eighth value tells whether it stopped so (``abandoned``).
    The search's inner step (:func:`symdescent.expr.fit.fit_expression`);
    ``max_iter = 0`` (or no constants) gives the closed-form outer terms at
    ``c0`` as it is (invalid where ``f`` is not finite there).
    """
    p = as_program(program)
    X, c0, y = check_X(p, X), check_constants(p, c0), _target(X, y)
    w = _weights(sample_weight, y.shape[0])
    if score is None:
        X2, y2, w2 = X[:0], y[:0], _NO_WEIGHTS
    else:
        X2 = check_X(p, score[0])
        y2 = _target(X2, score[1])
        w2 = _weights(score[2], y2.shape[0])
    c, a, b, mse, ok, constant, mse2, stop = _fit_choose_kernel(p.code, p.arg, p.value, p.columns, p.depth, c0,
                                                                X, y, bool(use_a), bool(use_b), int(max_iter), w,
                                                                float(beta), X2, y2, w2, float(give_up), int(probe))
    return c, float(a), float(b), float(mse), bool(ok), bool(constant), float(mse2), stop == _STOP_HOPELESS


def scaled_mse(program, c, X, y, a: float, b: float, sample_weight=None) -> float:
    """The (weighted) mean squared error of ``a f(x; c) + b`` on ``(X, y)``, compiled; ``inf`` when not finite."""
    p = as_program(program)
    X, c, y = check_X(p, X), check_constants(p, c), _target(X, y)
    w = _weights(sample_weight, y.shape[0])
    return float(_scaled_mse_kernel(p.code, p.arg, p.value, p.columns, p.depth, c, X, y, float(a), float(b), w))


def fit_constants(program, c0, X, y, use_a: bool = True, use_b: bool = True, max_iter: int = 100,
                  sample_weight=None):
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
    program : CompiledProgram, sequence of str or Expression
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
    sample_weight : array-like (n,), optional
        Non-negative weights of the rows, not all zero: the fit minimises
        ``sum(w (a f + b - y)**2)`` (residuals and Jacobian rows scaled by
        ``sqrt(w)``, ``a`` and ``b`` by weighted least squares) and ``mse`` is
        the weighted mean ``sum(w r**2) / sum(w)``.  None: unweighted.

    Returns
    -------
    c : ndarray (k,)
        Fitted constants, always finite; the starting point when no step
        improved on it.
    a, b : float
        The outer scale and offset at ``c``.
    mse : float
        ``mean((a f(c) + b - y) ** 2)`` (weighted with ``sample_weight``); ``inf`` when not finite.
    ok : bool
        False when no starting point with finite ``f`` was found (or ``y`` is
        not finite, or has no rows); then ``a, b, mse = 1, 0, inf``.

    Notes
    -----
    ``_fit_kernel`` (same arguments after the program's arrays, then a
    give-up level and a probe, ``inf`` and ``0`` here: see :func:`fit_scaled`)
    also returns the number of evaluations of ``f`` and of the Jacobian and
    why it stopped (``_STOP_*``).
    """
    p = as_program(program)
    X = check_X(p, X)
    c0 = check_constants(p, c0)
    y = _target(X, y)
    w = _weights(sample_weight, y.shape[0])
    if sample_weight is not None:
        if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
            raise ValueError("sample_weight must be finite, non-negative and not all zero")
    c, a, b, mse, ok, _, _, _ = _fit_kernel(p.code, p.arg, p.value, p.columns, p.depth, c0, X, y,
                                            bool(use_a), bool(use_b), int(max_iter), w, np.inf, 0)
    return c, float(a), float(b), float(mse), bool(ok)
