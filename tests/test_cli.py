import json
import subprocess
import sys

import pytest
import sympy

from symdescent.cli import main


@pytest.fixture
def csv(energy_csv):
    return energy_csv


def test_fit_json(csv, tmp_path, capsys):
    out = tmp_path / "out.json"
    code = main(["fit", str(csv), "--target", "E", "--max-iterations", "4", "--seed", "0", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "E =" in printed and "Pareto front" in printed
    data = json.loads(out.read_text())
    assert set(data) >= {"best", "pareto_front", "config", "elapsed_s", "target", "targets", "format"}
    record = {"expression", "infix", "complexity", "r2", "loss", "score", "origin", "tokens", "constants"}
    assert set(data["best"]) == record  # the model record: SymbolicRegressor.load and symdescent predict read it
    m, v = sympy.symbols("m v")
    expr = sympy.sympify(data["best"]["expression"], locals={"m": m, "v": v})  # trusted: our own output
    assert expr.free_symbols <= {m, v}
    assert data["best"]["r2"] > 0.9999
    assert all(set(c) == record for c in data["pareto_front"])
    assert data["config"]["search"]["seed"] == 0 and data["target"] == "E" and data["targets"] == ["E"]
    from symdescent import SymbolicRegressor

    model = SymbolicRegressor.load(out)
    assert list(model.feature_names_in_) == ["m", "v"] and model.best_.to_dict(["m", "v"]) == data["best"]


def test_quiet_prints_only_expression(csv, capsys):
    assert main(["fit", str(csv), "--target", "E", "--max-iterations", "2", "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "m" in out[0]


def test_plugins_lists_builtins(capsys):
    assert main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"random", "descent", "mdl", "r2"} <= set(rows)
    assert rows["descent"]["roles"] == ["refiner"] and rows["descent"]["available"]
    assert "population_size" in rows["descent"]["settings"]


def test_console_script_and_import_is_light():
    code = ("import sys, symdescent; mods = set(sys.modules); "
            "print(any(m.split('.')[0] in {'sympy','scipy','sklearn','onnxruntime','torch','pandas'} for m in mods))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_set_overrides_any_setting(csv, tmp_path):
    out = tmp_path / "o.json"
    code = main(["fit", str(csv), "--target", "E", "--max-iterations", "1", "--quiet", "--json", str(out),
                 "--set", "search.max_complexity=12", "--set", 'strategy.scorer="r2"',
                 "--set", "plugins.descent.population_size=30", "--set", "plugins.r2.parsimony=0.01"])
    assert code == 0
    cfg = json.loads(out.read_text())["config"]
    assert cfg["search"]["max_complexity"] == 12 and cfg["strategy"]["scorer"] == "r2"
    assert cfg["plugins"]["descent"]["population_size"] == 30 and cfg["plugins"]["r2"]["parsimony"] == 0.01


def test_set_takes_a_comma_separated_list(csv, tmp_path):
    out = tmp_path / "o.json"
    code = main(["fit", str(csv), "--target", "E", "--max-iterations", "1", "--quiet", "--json", str(out),
                 "--set", "search.operators=add,mul, square", "--set", "strategy.proposers=random"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["config"]["search"]["operators"] == ["add", "mul", "square"]
    assert data["config"]["strategy"]["proposers"] == ["random"]
    names = {"m", "v"}
    assert set(sympy.sympify(data["best"]["expression"]).free_symbols) <= {sympy.Symbol(n) for n in names}


def test_comma_lists_only_from_the_command_line():
    from symdescent.cli import parse_settings
    from symdescent.config import Config, config_from_dict
    from symdescent.errors import ConfigError

    sets = parse_settings(["search.operators=add,mul", "search.seed=3", "plugins.x.values=1,2"])
    cfg = Config().with_overrides(search=sets["search"])
    assert cfg.search.operators == ("add", "mul") and cfg.search.seed == 3
    from symdescent.config import coerce

    assert coerce(sets["plugins"]["x"]["values"], tuple[int, ...], "plugins.x.values") == (1, 2)
    # a string in a TOML file is a string: never split behind the user's back
    with pytest.raises(ConfigError, match="expected a list"):
        config_from_dict({"search": {"operators": "add,mul"}})
    # a bare word for a string setting stays one string, commas and all
    assert Config().with_overrides(strategy=parse_settings(["strategy.scorer=r2"])["strategy"]).strategy.scorer == "r2"
    with pytest.raises(ConfigError, match="unknown operator in search.operators 'mull'; did you mean 'mul'"):
        Config().with_overrides(search=parse_settings(["search.operators=add,mull"])["search"])
    with pytest.raises(ConfigError, match="empty item"):
        Config().with_overrides(search=parse_settings(["search.operators=add,,mul"])["search"])


def test_operators_lists_every_operator(capsys):
    from symdescent.config import DEFAULT_OPERATORS
    from symdescent.expr import ops

    assert main(["operators", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(ops.OPERATORS)
    by_name = {r["name"]: r for r in rows}
    assert by_name["pow"]["arity"] == 2 and by_name["sin"]["arity"] == 1
    assert {n for n, r in by_name.items() if r["default"]} == set(DEFAULT_OPERATORS)
    assert all(r["description"] for r in rows)
    assert main(["operators"]) == 0
    table = capsys.readouterr().out
    assert all(name in table for name in ops.OPERATORS) and "tanh" in table and "hyperbolic tangent" in table
