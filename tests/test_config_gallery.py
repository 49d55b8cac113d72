"""Every config in examples/configs/ loads, and validates where its plugins are installed."""

from pathlib import Path

import pytest

from symdescent.config import load_config, plugin_config
from symdescent.registry import Registry, build_strategy

GALLERY = Path(__file__).resolve().parents[1] / "examples" / "configs"
CONFIGS = sorted(GALLERY.glob("*.toml"))


def test_gallery_has_the_documented_configs():
    names = {p.name for p in CONFIGS}
    assert {"descent.toml", "random_descent.toml", "lee.toml", "lee_descent.toml"} <= names


@pytest.fixture(scope="module")
def registry():
    return Registry.discover()


def _selected(cfg) -> set[str]:
    return {*cfg.strategy.proposers, *cfg.strategy.refiners, cfg.strategy.scorer}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_validates(path, registry):
    text = path.read_text()
    assert text.lstrip().startswith("#"), f"{path.name} should open with a comment saying what it is for"
    cfg = load_config(path)
    missing = sorted(n for n in _selected(cfg) | set(cfg.plugins) if n not in registry.plugins)
    if missing:
        pytest.skip(f"{path.name}: plugin(s) not installed: {', '.join(missing)}")
    # sections are checked (keys, types, values) even where a plugin cannot run here
    sections = {n: plugin_config(registry.plugins[n].config, cfg.plugin_section(n), n)
                for n in _selected(cfg) | set(cfg.plugins)}
    unavailable = {n: registry.plugins[n].unavailable_reason(sections[n]) for n in _selected(cfg)}
    unavailable = {n: r for n, r in unavailable.items() if r}
    if unavailable:
        pytest.skip(f"{path.name}: " + "; ".join(f"{n} unavailable: {r}" for n, r in unavailable.items()))
    parsed = registry.validate(cfg)
    assert set(parsed) == _selected(cfg)
    strategy = build_strategy(cfg, registry)  # every selected role instantiates
    assert [s.name for s in strategy.proposers] == list(dict.fromkeys(cfg.strategy.proposers))
    assert [s.name for s in strategy.refiners] == list(dict.fromkeys(cfg.strategy.refiners))
    assert strategy.scorer.name == cfg.strategy.scorer
