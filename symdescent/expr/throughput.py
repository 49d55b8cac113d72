"""Measure the compiled kernels against the numpy / scipy reference paths.

Run ``python -m symdescent.expr.throughput`` (single core, no arguments).  It prints

(a) evaluation throughput in row-node evaluations per second for ~15-node
    random expressions on 1,000 rows: :func:`symdescent.expr.compiled.evaluate`
    vs :func:`symdescent.expr.evaluate.evaluate_tokens` (and the Jacobians);
(b) time per constant fit on 256 rows for ~20 random expressions with 2-4
    constants: :func:`symdescent.expr.compiled.fit_constants` vs
    :func:`symdescent.expr.fit.fit_expression`, with the MSE each reaches.

Timings are the best of several repeats, after a warm-up call that triggers
(or loads from cache) the numba compilation; that first call's time is
printed too.
"""

from __future__ import annotations

import time

import numpy as np

from symdescent.expr.expression import Expression


def _best_time(fn, repeats: int, inner: int) -> float:
    """Best over ``repeats`` of the mean time of ``inner`` calls, in seconds.

    The minimum, not the mean: on a shared machine other processes only ever
    add time, so the fastest repeat is the closest to the code's own cost.
    """
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return float(np.min(times))


def _sample(rng, n_variables: int, sizes: range, n_consts: range | None, count: int) -> list[Expression]:
    from symdescent.expr.generate import GrammarSampler

    sampler = GrammarSampler(n_variables=n_variables, max_size=max(sizes))
    out: list[Expression] = []
    seen: set = set()
    while len(out) < count:
        e = sampler.sample(rng, min_ops=(min(sizes) - 1) // 2)
        if e.complexity not in sizes or e.tokens in seen:
            continue
        if n_consts is not None and e.n_constants not in n_consts:
            continue
        seen.add(e.tokens)
        out.append(e)
    return out


def measure_evaluation(n_rows: int = 1000, n_exprs: int = 20, seed: int = 0) -> dict:
    """Row-node evaluations per second of both evaluators (and both Jacobians)."""
    from symdescent.expr import compiled
    from symdescent.expr.evaluate import evaluate_tokens, evaluate_with_jacobian

    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 3.0, size=(n_rows, 3))
    exprs = _sample(rng, 3, range(13, 18), None, n_exprs)
    t0 = time.perf_counter()
    compiled.evaluate(exprs[0].tokens, exprs[0].constants, X)
    t_first_eval = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled.evaluate_jacobian(exprs[0].tokens, exprs[0].constants, X)
    t_first_jac = time.perf_counter() - t0

    nodes = sum(e.complexity for e in exprs)
    progs = [compiled.compile_program(e.tokens) for e in exprs]
    consts = [np.array(e.constants) for e in exprs]

    numba_args = [(p, c, X) for p, c in zip(progs, consts)]
    numpy_args = [(e.tokens, e.constants, X) for e in exprs]

    def each(fn, args):
        """A function that calls ``fn(*a)`` for every ``a`` of ``args``: the work one timing measures."""
        def run():
            for a in args:
                fn(*a)
        return run

    work = nodes * n_rows
    out = {
        "n_rows": n_rows,
        "n_exprs": n_exprs,
        "mean_nodes": nodes / n_exprs,
        "first_call_evaluate_s": t_first_eval,
        "first_call_jacobian_s": t_first_jac,
        "numba_eval_rn_per_s": work / _best_time(each(compiled.evaluate, numba_args), 7, 20),
        "numpy_eval_rn_per_s": work / _best_time(each(evaluate_tokens, numpy_args), 7, 5),
        "numba_jac_rn_per_s": work / _best_time(each(compiled.evaluate_jacobian, numba_args), 5, 5),
        "numpy_jac_rn_per_s": work / _best_time(each(evaluate_with_jacobian, numpy_args), 5, 2),
    }
    return out


def measure_fitting(n_rows: int = 256, n_exprs: int = 20, seed: int = 1) -> dict:
    """Time per fit and MSE reached: ``fit_constants`` vs ``fit_expression``."""
    from symdescent.expr import compiled
    from symdescent.expr.fit import fit_expression, root_has_constant

    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 3.0, size=(n_rows, 3))
    problems = []
    for e in _sample(rng, 3, range(7, 16), range(2, 5), 10 * n_exprs):
        # target: the same skeleton with other constants, plus 1 % noise
        truth = e.constants * (1.0 + 0.5 * rng.standard_normal(e.n_constants))
        y = compiled.evaluate(e.tokens, truth, X)
        if not np.all(np.isfinite(y)) or np.ptp(y) == 0:
            continue
        y = y + 0.01 * np.std(y) * rng.standard_normal(n_rows)
        use_a = not root_has_constant(e, ("mul", "div"))
        use_b = not root_has_constant(e, ("add", "sub"))
        problems.append((e, y, use_a, use_b))
        if len(problems) == n_exprs:
            break

    t0 = time.perf_counter()
    e0, y0, a0, b0 = problems[0]
    compiled.fit_constants(e0.tokens, e0.constants, X, y0, a0, b0, 10)
    t_first = time.perf_counter() - t0

    rows = []
    for e, y, use_a, use_b in problems:
        k = e.n_constants
        prog = compiled.compile_program(e.tokens)
        c0 = np.array(e.constants)
        budget = 2 * k + 6  # fit_expression's default max_nfev
        t_ref = _best_time(lambda: fit_expression(e, X, y), 3, 3)
        t_nb = _best_time(lambda: compiled.fit_constants(prog, c0, X, y, use_a, use_b, budget), 5, 20)
        t_nb100 = _best_time(lambda: compiled.fit_constants(prog, c0, X, y, use_a, use_b, 100), 5, 10)
        ref = fit_expression(e, X, y)
        nb = compiled.fit_constants(prog, c0, X, y, use_a, use_b, budget)
        nb100 = compiled.fit_constants(prog, c0, X, y, use_a, use_b, 100)
        rows.append((e, k, t_ref, t_nb, t_nb100, ref.mse, nb[3], nb100[3], nb[4]))
    return {"n_rows": n_rows, "first_call_s": t_first, "rows": rows}


def main() -> None:
    import os

    try:  # one core, as the search uses per worker
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass

    ev = measure_evaluation()
    print(f"(a) evaluation, {ev['n_rows']} rows, {ev['n_exprs']} expressions of "
          f"{ev['mean_nodes']:.1f} nodes on average (one core)")
    print(f"    first call (compile or cache load): evaluate {ev['first_call_evaluate_s']:.2f} s, "
          f"evaluate_jacobian {ev['first_call_jacobian_s']:.2f} s")
    for what, nb, ref in (("evaluate", "numba_eval_rn_per_s", "numpy_eval_rn_per_s"),
                          ("jacobian", "numba_jac_rn_per_s", "numpy_jac_rn_per_s")):
        print(f"    {what:9s} numba {ev[nb] / 1e6:8.1f} M row-nodes/s   numpy {ev[ref] / 1e6:8.1f} M row-nodes/s"
              f"   speed-up {ev[nb] / ev[ref]:5.1f}x")

    fit = measure_fitting()
    rows = fit["rows"]
    print(f"\n(b) constant fitting, {fit['n_rows']} rows, {len(rows)} random expressions with 2-4 constants, "
          f"target = same skeleton with other constants + 1% noise")
    print(f"    first call of fit_constants (compile or cache load): {fit['first_call_s']:.2f} s")
    print(f"    {'expression':44s} k  fit_expression    numba(2k+6)     numba(100)")
    for e, k, t_ref, t_nb, t_nb100, m_ref, m_nb, m_nb100, ok in rows:
        name = e.to_infix(precision=3)
        name = name if len(name) <= 44 else name[:41] + "..."
        print(f"    {name:44s} {k}  {t_ref * 1e3:6.2f} ms {m_ref:8.1e}  {t_nb * 1e6:6.1f} us {m_nb:8.1e}"
              f"  {t_nb100 * 1e6:6.1f} us {m_nb100:8.1e}")
    t_ref = np.array([r[2] for r in rows])
    t_nb = np.array([r[3] for r in rows])
    t_nb100 = np.array([r[4] for r in rows])
    m_ref = np.array([r[5] for r in rows])
    m_nb = np.array([r[6] for r in rows])
    m_nb100 = np.array([r[7] for r in rows])

    def better(m, ref):
        tol = 1e-6 * np.maximum(np.abs(ref), 1e-300)
        return int(np.sum(m < ref - tol)), int(np.sum(np.abs(m - ref) <= tol)), int(np.sum(m > ref + tol))

    print(f"    mean time per fit: fit_expression {t_ref.mean() * 1e3:.2f} ms, "
          f"fit_constants(max_iter=2k+6) {t_nb.mean() * 1e6:.1f} us ({t_ref.mean() / t_nb.mean():.0f}x), "
          f"fit_constants(max_iter=100) {t_nb100.mean() * 1e6:.1f} us ({t_ref.mean() / t_nb100.mean():.0f}x)")
    print(f"    median speed-up per expression: {np.median(t_ref / t_nb):.0f}x (2k+6), "
          f"{np.median(t_ref / t_nb100):.0f}x (100)")
    print("    MSE vs fit_expression (lower / same / higher): "
          f"2k+6 {better(m_nb, m_ref)}, 100 {better(m_nb100, m_ref)}")
    for r in rows:
        if r[6] > r[5] * (1 + 1e-6):
            print(f"    higher with 2k+6: {r[0].to_infix(precision=3)}: {r[6]:.6e} vs {r[5]:.6e}")


if __name__ == "__main__":
    main()
