"""The pysr refiner inside real searches.

Without Julia the plugin must fail before any search starts, with the
message of its availability check (the first tests simulate that on any
machine).  The end-to-end tests run PySR itself and are skipped, with that
same message as the reason, where Julia is missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from symdescent.cli import main
from symdescent.errors import PluginError
from symdescent.registry import Registry, describe
from symdescent.search import Search
from symdescent_pysr import julia
from symdescent_pysr.julia import JuliaLocation

ROOT = Path(__file__).resolve().parents[2]
PROJECTILE = ROOT / "examples" / "projectile.csv"
PYSR_TOML = ROOT / "examples" / "configs" / "pysr.toml"
LEE_PYSR_TOML = ROOT / "examples" / "configs" / "lee_pysr.toml"

#: None where PySR can run; else what is missing and how to install it.
JULIA_MISSING = julia.unavailable_reason()
needs_julia = pytest.mark.skipif(JULIA_MISSING is not None, reason=JULIA_MISSING or "")


def _lee_missing() -> str | None:
    lee = Registry.discover().plugins.get("lee")
    return "the 'lee' plugin is not installed" if lee is None else lee.unavailable_reason()


#: None where LEE can propose; else why not (lee_pysr.toml then fails on 'lee' first).
LEE_MISSING = _lee_missing()

FAKE_MISSING = "PySR needs a Julia runtime and none was found (simulated by the test)"


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, size=(n, 2))
    return X, X[:, 0] ** 2 * X[:, 1] + 0.5


def _config(**search):
    base = {"time_budget": None, "max_iterations": 2, "seed": 0, "max_complexity": 15}
    base.update(search)
    return {"search": base, "strategy": {"proposers": ["random"], "refiners": ["pysr"]},
            "plugins": {"random": {"samples": 10},
                        "pysr": {"niterations": 3, "populations": 4, "population_size": 20,
                                 "ncycles_per_iteration": 50}}}


@pytest.fixture
def julia_missing(monkeypatch):
    monkeypatch.setattr(julia, "find_julia", lambda env=None: FAKE_MISSING)


# -- without Julia ----------------------------------------------------------------------

def test_search_fails_before_starting_without_julia(julia_missing):
    X, y = _data()
    with pytest.raises(PluginError, match=r"plugin 'pysr' is unavailable: PySR needs a Julia runtime"):
        Search(X, y, config=_config())
    assert "pysr" not in sys.modules and "juliacall" not in sys.modules


@pytest.mark.parametrize("config", [PYSR_TOML, LEE_PYSR_TOML], ids=["pysr.toml", "lee_pysr.toml"])
def test_cli_exits_2_with_the_message(julia_missing, config, capsys):
    code = main(["fit", str(PROJECTILE), "--target", "R", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2
    if config == LEE_PYSR_TOML and LEE_MISSING:
        assert "plugin 'lee'" in err  # the strategy's first plugin fails first
    else:
        assert err.strip() == f"error: plugin 'pysr' is unavailable: {FAKE_MISSING}"


def test_plugins_lists_pysr_as_unavailable(julia_missing, capsys):
    row = next(r for r in describe(Registry.discover()) if r["name"] == "pysr")
    assert row["available"] is False and row["reason"] == FAKE_MISSING and row["roles"] == ["refiner"]
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["name"] == "pysr" and r["reason"] == FAKE_MISSING for r in rows)


def test_with_julia_found_the_plugin_is_available_and_pysr_stays_unimported(monkeypatch):
    monkeypatch.setattr(julia, "find_julia", lambda env=None: JuliaLocation("/opt/julia/bin/julia", "PATH"))
    X, y = _data()
    search = Search(X, y, config=_config())  # builds the plugin manager; PySR starts only on refine
    assert search.role("pysr", "refiner") is not None
    assert "pysr" not in sys.modules


def test_real_detection_on_this_machine_is_consistent():
    row = next(r for r in describe(Registry.discover()) if r["name"] == "pysr")
    assert row["available"] == (JULIA_MISSING is None)
    assert row["reason"] == (JULIA_MISSING or "")
    # the registry hands the parsed [plugins.pysr] section to the check: same answer
    X, y = _data()
    if JULIA_MISSING is None:
        Search(X, y, config=_config())
    else:
        with pytest.raises(PluginError) as err:
            Search(X, y, config=_config())
        assert str(err.value) == f"plugin 'pysr' is unavailable: {JULIA_MISSING}"


# -- with Julia: PySR runs ------------------------------------------------------------------

def _run(config):
    X, y = _data()
    return Search(X, y, variable_names=["a", "b"], config=config).run()


@pytest.mark.julia
@needs_julia
def test_pysr_results_join_the_front_and_are_reproducible():
    first = _run(_config())
    assert first.best is not None and first.best.r2 > 0.99
    assert any(c.origin == "pysr" for c in first.front)
    second = _run(_config())
    assert [c.expression for c in first.front] == [c.expression for c in second.front]


@pytest.mark.julia
@needs_julia
def test_pysr_keeps_the_time_budget():
    _run(_config(max_iterations=1))  # Julia compiles on first use; that time is not PySR's to bound
    t0 = time.monotonic()
    result = _run(_config(max_iterations=None, time_budget=8.0, iteration_seconds=2.0))
    assert result.stop_reason == "time_budget"
    assert time.monotonic() - t0 < 8.0 + 3.0


@pytest.mark.julia
@needs_julia
@pytest.mark.parametrize("config", [
    PYSR_TOML,
    pytest.param(LEE_PYSR_TOML, marks=pytest.mark.skipif(LEE_MISSING is not None, reason=LEE_MISSING or "")),
], ids=["pysr.toml", "lee_pysr.toml"])
def test_cli_fit_with_pysr(config, tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "symdescent.cli", "fit", str(PROJECTILE), "--target", "R", "--config", str(config),
         "--time-budget", "40", "--quiet", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    best = json.loads(out.read_text())["best"]
    assert best["r2"] > 0.99
