"""One home for the flags-to-config rule: config.apply_flags, used by ``symdescent fit`` and the estimator alike."""

import json

import numpy as np
import pandas as pd
import pytest

from symdescent import SymbolicRegressor
from symdescent.cli import main, parse_settings
from symdescent.config import FLAGS, Config, apply_flags, config_from_dict
from symdescent.errors import ConfigError

BASE = config_from_dict({"search": {"time_budget": 7.0, "max_iterations": 40, "seed": 1}})


@pytest.mark.parametrize("flags, budget, iterations", [
    ({}, 7.0, 40),  # no flag: the config's
    ({"max_iterations": 5}, None, 5),  # iterations alone: no time limit, not the config's 7 s
    ({"max_iterations": 5, "time_budget": 3}, 3.0, 5),  # both given: both kept
    ({"time_budget": 3}, 3.0, 40),  # a time budget alone keeps the config's iterations
    ({"time_budget": None, "max_iterations": None}, 7.0, 40),  # None is "not given"
])
def test_max_iterations_without_time_budget_means_no_time_limit(flags, budget, iterations):
    sc = apply_flags(BASE, **flags).search
    assert (sc.time_budget, sc.max_iterations) == (budget, iterations)


def test_flags_win_over_settings_which_win_over_the_config():
    settings = {"search": {"seed": 5, "max_complexity": 12}, "strategy": {"scorer": "r2"},
                "plugins": {"descent": {"population_size": 50}}}
    cfg = apply_flags(BASE, settings, seed=9, proposers=("random",))
    assert cfg.search.seed == 9 and cfg.search.max_complexity == 12 and cfg.search.time_budget == 7.0
    assert cfg.strategy.scorer == "r2" and cfg.strategy.proposers == ("random",)
    assert cfg.plugins["descent"] == {"population_size": 50}
    assert apply_flags(BASE) == BASE


def test_flags_are_checked_like_the_config():
    with pytest.raises(ConfigError, match="search.max_iterations: expected int or NoneType, got 2.5"):
        apply_flags(Config(), max_iterations=2.5)
    with pytest.raises(TypeError, match="unknown flag 'time_budgte'; did you mean 'time_budget'"):
        apply_flags(Config(), time_budgte=3)
    assert apply_flags(Config(), max_iterations=np.int64(3)).search.max_iterations == 3
    assert set(FLAGS.values()) == {"search", "strategy"}


def test_the_command_line_and_the_estimator_build_the_same_config(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(30, 2))
    data, out = tmp_path / "d.csv", tmp_path / "o.json"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": X[:, 0] * X[:, 1]}).to_csv(data, index=False)
    assert main(["fit", str(data), "--target", "y", "--max-iterations", "1", "--seed", "3", "--workers", "1",
                 "--set", "plugins.descent.population_size=20", "--set", "search.seed=8", "--quiet",
                 "--json", str(out)]) == 0
    from_cli = json.loads(out.read_text())["config"]
    est = SymbolicRegressor(max_iterations=1, random_state=3, n_jobs=1,
                            plugin_options=parse_settings(["plugins.descent.population_size=20"])["plugins"])
    assert json.loads(json.dumps(est.build_config().to_dict())) == from_cli
    assert from_cli["search"]["time_budget"] is None and from_cli["search"]["seed"] == 3
