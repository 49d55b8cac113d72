"""The islands' overhead measurement: its prediction from measured rounds (the measuring itself runs clusters)."""

import pytest

from symdescent.bench.islands_overhead import expected_max_normal, fit_line, predict


def _row(workers, caller_s, noop_round_s, busy_mean_s=0.5, busy_max_s=0.6, sliced_max_s=0.52):
    return {"workers": workers, "caller_s": caller_s, "noop_round_s": noop_round_s, "busy_mean_s": busy_mean_s,
            "busy_max_s": busy_max_s, "bytes_out_per_island": 2000.0, "bytes_in_per_island": 1000.0,
            "sliced": {"busy_max_s": sliced_max_s}}


def test_the_prediction_extrapolates_the_fixed_cost_and_sizes_migration_every():
    rows = [_row(2, 0.001, 0.005), _row(4, 0.002, 0.010), _row(8, 0.004, 0.020)]
    p = predict(rows, 64, cores=2)
    assert p["fixed_s"] == pytest.approx(64 * 0.0005 + 64 * 0.0025)  # both lines pass through 0
    assert p["bytes_per_round"] == pytest.approx(64 * 3000)
    assert p["iteration_s"] == 0.5  # from the rows with a core per island only
    assert p["iterations_for_overhead"] == 8  # 0.192 s <= 5 % of 8 iterations of 0.5 s, not of 7
    assert p["sliced_lag_s"] == pytest.approx(0.02)
    assert p["slices_for_overhead"] == 9  # (0.192 + 0.02) / (0.05 * 0.5) = 8.5
    # the spread of 2 islands (0.1 s over 0.5 s), scaled to the slowest of 64
    assert p["imbalance"] == pytest.approx(0.2 / expected_max_normal(2) * expected_max_normal(64))


def test_lines_and_order_statistics():
    assert fit_line([4], [2.0]) == (2.0, 0.0)
    assert fit_line([1, 2, 3], [3.0, 5.0, 7.0]) == pytest.approx((1.0, 2.0))
    assert expected_max_normal(1) == pytest.approx(0.0, abs=1e-12)
    assert expected_max_normal(2) < expected_max_normal(8) < expected_max_normal(64) < 2.5
