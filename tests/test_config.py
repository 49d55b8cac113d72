import pytest

from symdescent.config import Config, config_from_dict, load_config
from symdescent.errors import ConfigError, SymdescentError
from symdescent.registry import Registry, build_strategy


def test_defaults():
    c = Config()
    assert c.search.time_budget == 30.0
    assert c.strategy.proposers == ("random", "linear") and c.strategy.scorer == "mdl"


def test_toml_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[search]\ntime_budget = 5\nseed = 3\n[strategy]\nproposers = ["random"]\nrefiners = ["descent"]\n'
                 'scorer = "r2"\n[plugins.descent]\npopulation_size = 50\n')
    c = load_config(p)
    assert c.search.time_budget == 5.0 and c.search.seed == 3 and c.strategy.scorer == "r2"
    assert c.plugins["descent"] == {"population_size": 50}


@pytest.mark.parametrize("data, fragment", [
    ({"serch": {}}, "unknown section [serch]; did you mean 'search'?"),
    ({"search": {"time_budgt": 3}}, "unknown key 'time_budgt' in [search]; did you mean 'time_budget'?"),
    ({"strategy": {"proposer": ["random"]}}, "did you mean 'proposers'?"),
    ({"search": {"time_budget": "fast"}}, "search.time_budget: expected"),
    ({"search": {"seed": 1.5}}, "search.seed: expected an integer"),
    ({"search": {"seed": True}}, "search.seed: expected an integer"),
    ({"search": {"time_budget": -1}}, "must be > 0"),
    ({"search": {"max_complexity": 0}}, "max_complexity must be >= 1"),
    ({"search": {"operators": ["add", "sine"]}}, "unknown operator in search.operators 'sine'; did you mean 'sin'?"),
    ({"search": {"operators": "add"}}, "expected a list"),
    ({"strategy": {"proposers": "random"}}, "expected a list"),
    ({"plugins": {"descent": 3}}, "plugins.descent must be a table"),
    ({"plugins": []}, "[plugins] must hold one table per plugin"),
])
def test_config_errors_name_the_problem(data, fragment):
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert fragment in str(info.value)


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    p = tmp_path / "bad.toml"
    p.write_text("[search\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


@pytest.mark.parametrize("data, fragment", [
    ({"strategy": {"proposers": ["randm"]}}, "unknown plugin 'randm'; did you mean 'random'?"),
    ({"strategy": {"scorer": "mdll"}}, "did you mean 'mdl'?"),
    ({"strategy": {"scorer": "random"}}, "cannot act as a scorer"),
    ({"strategy": {"refiners": ["mdl"]}}, "cannot act as a refiner"),
    ({"plugins": {"descnt": {}}}, "[plugins.descnt] configures an unknown plugin; did you mean 'descent'?"),
    ({"plugins": {"descent": {"population": 3}}}, "unknown key 'population' in [plugins.descent]; did you mean 'population_size'?"),
    ({"plugins": {"descent": {"population_size": 0}}}, "population_size must be >= 1"),
    ({"plugins": {"random": {"samples": "many"}}}, "plugins.random.samples: expected an integer"),
    ({"strategy": {"proposers": [], "refiners": []}}, "nothing would search"),
])
def test_strategy_errors(data, fragment):
    cfg = config_from_dict(data)
    with pytest.raises(SymdescentError) as info:
        build_strategy(cfg, Registry.discover())
    assert fragment in str(info.value)


def test_overrides_validate():
    c = Config().with_overrides(search={"time_budget": 3})
    assert c.search.time_budget == 3
    with pytest.raises(ConfigError, match="did you mean 'seed'"):
        Config().with_overrides(search={"sed": 3})
