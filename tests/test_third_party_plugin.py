"""A third-party plugin, exactly as docs/plugins.md writes it, works both ways:
registered through the API, and installed as a package whose entry point
symdescent discovers.

The plugin's module and pyproject.toml are read from the code blocks of
docs/plugins.md, so the documentation stays true.
"""

from __future__ import annotations

import csv
import json
import os
import re
import site
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import numpy as np
import pytest
import sympy

from symdescent.errors import ConfigError
from symdescent.registry import Registry
from symdescent.search import Search
from symdescent.testing import ProposerConformance

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _block(marker: str) -> str:
    """The fenced code block that follows ``<!-- marker -->`` in docs/plugins.md."""
    m = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"docs/plugins.md lost its <!-- {marker} --> code block"
    return m.group(1)


MODULE_SOURCE = _block("plugin-module")
PYPROJECT = _block("plugin-pyproject")


def _inline_module() -> types.ModuleType:
    # registered in sys.modules under a private name: dataclasses resolve annotations through it
    name = "_symdescent_pairs_inline"
    mod = sys.modules.get(name)
    if mod is None:
        mod = types.ModuleType(name)
        sys.modules[name] = mod
        exec(compile(MODULE_SOURCE, str(DOC), "exec"), mod.__dict__)
    return mod


PAIRS = _inline_module().PLUGIN


def _data():
    X = np.random.default_rng(0).uniform(1, 3, size=(80, 3))
    return X, 2.5 * X[:, 0] / X[:, 2]


# -- registered through the API ----------------------------------------------------------

def test_api_registration_runs_a_search():
    X, y = _data()
    cfg = {"search": {"time_budget": None, "max_iterations": 2, "simplify": False},
           "strategy": {"proposers": ["pairs"], "refiners": []}, "plugins": {"pairs": {"samples": 12}}}
    result = Search(X, y, config=cfg, plugins=[PAIRS]).run()
    assert result.best.origin == "pairs"
    assert result.best.r2 > 0.999999
    assert result.best.expression.tokens == ("mul", "C", "div", "x0", "x2")


def test_api_registration_validates_its_section():
    X, y = _data()
    base = {"search": {"time_budget": None, "max_iterations": 1},
            "strategy": {"proposers": ["pairs"], "refiners": []}}
    with pytest.raises(ConfigError, match="did you mean 'samples'"):
        Search(X, y, config={**base, "plugins": {"pairs": {"sample": 3}}}, plugins=[PAIRS])
    with pytest.raises(ConfigError, match=">= 1"):
        Search(X, y, config={**base, "plugins": {"pairs": {"samples": 0}}}, plugins=[PAIRS])


def test_api_registration_is_listed():
    reg = Registry.discover([PAIRS])
    assert reg.get("pairs", "proposer") is PAIRS


class TestPairsConformance(ProposerConformance):
    """The conformance suite, as the plugin's own tests would run it."""

    plugin = PAIRS
    plugin_config = {"samples": 4}


# -- installed as a package ------------------------------------------------------------

def _run(cmd, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PYTHONNOUSERSITE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _make_venv(path: Path) -> Path:
    """A virtual environment that sees this interpreter's packages (symdescent included)."""
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)])
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    # --system-site-packages reaches the *base* interpreter's site-packages only; when the tests
    # themselves run in a virtual environment, its site-packages (and the .pth files of editable
    # installs there) are added through a .pth file of the new environment.
    outer = [p for p in (*site.getsitepackages(), sysconfig.get_paths()["purelib"]) if Path(p).is_dir()]
    lines = [f"import site; site.addsitedir({p!r})" for p in dict.fromkeys(outer)]
    (Path(purelib) / "_outer_site_packages.pth").write_text("\n".join(lines) + "\n")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """symdescent-pairs built from docs/plugins.md and pip-installed into a fresh venv."""
    root = tmp_path_factory.mktemp("third_party")
    pkg = root / "symdescent-pairs"
    pkg.mkdir()
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "symdescent_pairs.py").write_text(MODULE_SOURCE)
    python = _make_venv(root / "venv")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(pkg)],
         cwd=root)
    return python, root


def test_installed_plugin_is_listed(installed):
    python, root = installed
    out = _run([str(python), "-m", "symdescent.cli", "plugins", "--json"], cwd=root).stdout
    rows = {r["name"]: r for r in json.loads(out)}
    assert "pairs" in rows, f"symdescent plugins does not list the installed plugin: {sorted(rows)}"
    assert rows["pairs"]["roles"] == ["proposer"]
    assert rows["pairs"]["available"] and rows["pairs"]["settings"] == ["samples"]
    assert {"random", "descent", "mdl", "r2"} <= set(rows)
    # and it is not visible outside that environment
    assert "pairs" not in Registry.discover().plugins


def test_installed_plugin_runs_in_a_search(installed):
    python, root = installed
    X, y = _data()
    with open(root / "data.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["a", "b", "c", "y"])
        w.writerows(np.column_stack([X, y]).tolist())
    (root / "search.toml").write_text(
        '[search]\ntime_budget = 20\nmax_iterations = 2\n'
        '[strategy]\nproposers = ["pairs"]\nrefiners = []\n'
        '[plugins.pairs]\nsamples = 12\n'
    )
    _run([str(python), "-m", "symdescent.cli", "fit", "data.csv", "--target", "y", "--config", "search.toml",
          "--quiet", "--json", "out.json"], cwd=root)
    out = json.loads((root / "out.json").read_text())
    assert out["config"]["strategy"]["proposers"] == ["pairs"]
    best = out["best"]
    assert best["r2"] > 0.999999
    a, c = sympy.symbols("a c")
    found = sympy.sympify(best["expression"], locals={"a": a, "c": c})
    assert found.free_symbols == {a, c}
    assert float(sympy.simplify(found / (a / c))) == pytest.approx(2.5)
