"""``[plugins.pysr]``: own settings, PySRRegressor keywords checked against the installed pysr,
and the Julia detection behind the plugin's availability check."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from symdescent.config import load_config, plugin_config
from symdescent.errors import ConfigError
from symdescent_pysr import julia
from symdescent_pysr.config import PySRConfig
from symdescent_pysr.julia import JuliaEnvironment, JuliaLocation, find_julia
from symdescent_pysr.signature import keywords_from_source, pysr_keywords

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = pysr_keywords()
needs_pysr = pytest.mark.skipif(INSTALLED is None, reason="pysr is not installed: pip install 'symdescent[pysr]'")

#: Values of the plugin's own settings that are also PySRRegressor keywords.
OWN_VALUES = {"niterations": 3, "populations": 4, "population_size": 20, "maxsize": 12,
              "fraction_replaced_guesses": 0.1, "warm_start": False}


# -- the section -----------------------------------------------------------------------

def test_own_settings_and_pass_through():
    cfg = plugin_config(PySRConfig, {"niterations": 4, "max_guesses": 8, "ncycles_per_iteration": 100,
                                     "pysr_keywords": {"precision": 64}}, "pysr")
    assert (cfg.niterations, cfg.max_guesses) == (4, 8)
    assert cfg.pysr_keywords == {"ncycles_per_iteration": 100, "precision": 64}


@pytest.mark.parametrize("section, fragment", [
    ({"niterations": "many"}, "plugins.pysr.niterations: expected an integer"),
    ({"niterations": 0}, "niterations must be >= 1"),
    ({"maxsize": 5}, "at least 7|>= 7"),
    ({"fraction_replaced_guesses": 2.0}, r"in \[0, 1\]"),
    ({"pysr_keywords": 3}, "expected a table"),
    ({"pysr_keywords": {"niterations": 3}}, "write it as plugins.pysr.niterations"),
])
def test_bad_values(section, fragment):
    with pytest.raises(ConfigError, match=fragment):
        plugin_config(PySRConfig, section, "pysr")


@needs_pysr
@pytest.mark.parametrize("typo, suggestion", [
    ("populaton_size", "population_size"), ("niteration", "niterations"), ("ncycles_per_iter", "ncycles_per_iteration"),
    ("max_guess", "max_guesses"), ("binary_operator", "binary_operators"),
])
def test_misspelt_keyword_is_rejected_with_a_suggestion(typo, suggestion):
    with pytest.raises(ConfigError, match=f"unknown key '{typo}'.*did you mean '{suggestion}'"):
        plugin_config(PySRConfig, {typo: 1}, "pysr")


@needs_pysr
def test_misspelt_keyword_in_the_nested_table():
    with pytest.raises(ConfigError, match=r"plugins.pysr.pysr_keywords\].*did you mean 'precision'"):
        plugin_config(PySRConfig, {"pysr_keywords": {"precison": 64}}, "pysr")


@needs_pysr
def test_every_keyword_of_the_installed_pysr_is_accepted():
    assert len(INSTALLED) > 50 and "niterations" in INSTALLED and "self" not in INSTALLED
    for key in INSTALLED:
        value = OWN_VALUES.get(key, None)
        cfg = plugin_config(PySRConfig, {key: value}, "pysr")
        if key in OWN_VALUES:
            assert getattr(cfg, key) == value
        else:
            assert cfg.pysr_keywords == {key: value}


def test_without_pysr_the_keywords_pass_unchecked(monkeypatch):
    monkeypatch.setattr("symdescent_pysr.config.pysr_keywords", lambda: None)
    assert PySRConfig.from_section({"anything_goes": 1}).pysr_keywords == {"anything_goes": 1}


@needs_pysr
@pytest.mark.parametrize("name", ["pysr.toml", "lee_pysr.toml"])
def test_example_configs_are_valid(name):
    cfg = load_config(ROOT / "examples" / "configs" / name)
    assert "pysr" in cfg.strategy.refiners
    plugin_config(PySRConfig, cfg.plugin_section("pysr"), "pysr")


# -- reading the signature from source --------------------------------------------------

def test_keywords_from_source():
    src = "class Other:\n    def __init__(self, z): pass\n" \
          "class PySRRegressor:\n    def __init__(self, model_selection='best', *, niterations=1, **kwargs): pass\n"
    assert keywords_from_source(src) == ("model_selection", "niterations")
    assert keywords_from_source("def f(:") is None
    assert keywords_from_source("x = 1") is None


def test_pysr_keywords_searches_the_package(tmp_path):
    (tmp_path / "sr.py").write_text("# moved away\n")
    (tmp_path / "regressor.py").write_text("class PySRRegressor:\n    def __init__(self, *, a=1, b=2): pass\n")
    assert pysr_keywords(tmp_path) == ("a", "b")
    assert pysr_keywords(tmp_path / "missing") is None


def test_signature_is_read_without_importing_pysr():
    assert "pysr" not in sys.modules and "juliacall" not in sys.modules


# -- Julia detection ------------------------------------------------------------------------

def _env(tmp_path, environ=None, which=None, venv=True, **kw):
    return JuliaEnvironment(environ=environ or {}, xoptions=kw.pop("xoptions", {}),
                            which=which or (lambda name: None),
                            prefix=str(tmp_path / "venv"), base_prefix="/usr" if venv else str(tmp_path / "venv"),
                            home=str(tmp_path / "home"), **kw)


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_nothing_found_says_what_is_missing_and_how_to_install(tmp_path):
    msg = find_julia(_env(tmp_path))
    assert isinstance(msg, str)
    assert msg.startswith("PySR needs a Julia runtime and none was found")
    assert str(tmp_path / "venv" / "julia_env" / "pyjuliapkg" / "install") in msg
    assert "julialang.org" in msg and "PATH" in msg


def test_julia_on_path(tmp_path):
    found = find_julia(_env(tmp_path, which=lambda name: "/opt/julia/bin/julia" if name == "julia" else None))
    assert found == JuliaLocation("/opt/julia/bin/julia", "PATH")


def test_overrides(tmp_path):
    exe = str(_executable(tmp_path / "jl" / "bin" / "julia"))
    which = lambda name: name if name == exe else None  # noqa: E731
    assert find_julia(_env(tmp_path, {"PYTHON_JULIACALL_EXE": exe}, which)).source == "PYTHON_JULIACALL_EXE"
    assert find_julia(_env(tmp_path, {"PYTHON_JULIAPKG_EXE": exe}, which)).source == "PYTHON_JULIAPKG_EXE"
    assert find_julia(_env(tmp_path, xoptions={"juliapkg-exe": exe}, which=which)).source == "-X juliapkg-exe"
    bindir = find_julia(_env(tmp_path, {"PYTHON_JULIACALL_BINDIR": str(tmp_path / "jl" / "bin")}))
    assert bindir.path == exe
    bad = find_julia(_env(tmp_path, {"PYTHON_JULIAPKG_EXE": "/nowhere/julia"}))
    assert isinstance(bad, str) and "PYTHON_JULIAPKG_EXE=/nowhere/julia is not an executable" in bad


def test_julia_installed_by_juliapkg(tmp_path):
    exe = _executable(tmp_path / "venv" / "julia_env" / "pyjuliapkg" / "install" / "bin" / "julia")
    assert find_julia(_env(tmp_path)) == JuliaLocation(str(exe), "juliapkg install")
    # outside a venv: the depot's shared environment, JULIA_DEPOT_PATH first
    depot = tmp_path / "depot"
    exe2 = _executable(depot / "environments" / "pyjuliapkg" / "pyjuliapkg" / "install" / "bin" / "julia")
    found = find_julia(_env(tmp_path, {"JULIA_DEPOT_PATH": f"{depot}{os.pathsep}/other"}, venv=False))
    assert found.path == str(exe2)


def test_julia_resolved_by_juliapkg_meta(tmp_path):
    exe = _executable(tmp_path / "elsewhere" / "julia")
    meta = tmp_path / "proj" / "pyjuliapkg" / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"executable": str(exe)}))
    found = find_julia(_env(tmp_path, {"PYTHON_JULIAPKG_PROJECT": str(tmp_path / "proj")}))
    assert found.path == str(exe) and found.source.startswith("juliapkg")


def test_juliaup(tmp_path):
    meta = tmp_path / "home" / ".julia" / "juliaup" / "juliaup.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"InstalledVersions": {}}))
    assert isinstance(find_julia(_env(tmp_path)), str)  # juliaup without any Julia
    meta.write_text(json.dumps({"InstalledVersions": {"1.11.2+0.x64.linux.gnu": {"Path": "x"}}}))
    assert find_julia(_env(tmp_path)).source == "juliaup"


def test_unavailable_reason_without_pysr(monkeypatch):
    monkeypatch.setattr(julia, "pysr_installed", lambda: False)
    reason = julia.unavailable_reason()
    assert "pysr is not installed" in reason and 'pip install "symdescent[pysr]"' in reason


@needs_pysr
def test_every_keyword_the_refiner_passes_exists_in_the_installed_pysr():
    import ast

    from symdescent.config import Config
    from symdescent.registry import PluginContext, derive_rng
    from symdescent_pysr.plugin import PySRRefiner
    from symdescent_pysr.signature import pysr_package_dir

    ctx = PluginContext(name="pysr", role="refiner", config=PySRConfig(populations=3, population_size=20), seed=0,
                        rng=derive_rng(0, "pysr"), shared={}, search=Config())
    keywords = set(PySRRefiner(ctx).regressor_keywords("/tmp/x"))
    per_chunk = {"niterations", "timeout_in_seconds", "guesses", "warm_start"}  # set_params on every chunk
    assert keywords | per_chunk <= set(INSTALLED)
    # fit(X, y, variable_names=...) and the fitted table the refiner reads
    tree = ast.parse((pysr_package_dir() / "sr.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "PySRRegressor")
    fit = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "fit")
    assert "variable_names" in {a.arg for a in (*fit.args.args, *fit.args.kwonlyargs)}
    assert "equations_" in ast.unparse(cls)
