"""PySR and user operators (issue 19, point 2): a formula is translated by expansion (its body's operators,
the guesses written out); a Python function is refused by name, since PySR's custom operators are Julia."""

import numpy as np
import pytest

from symdescent.config import Config, SearchConfig
from symdescent.errors import PluginError
from symdescent.expr import parse
from symdescent.operators import OperatorSet, define
from symdescent.registry import PluginContext, derive_rng
from symdescent.types import Candidate, Score
from symdescent_pysr.guesses import build_guesses
from symdescent_pysr.operators import translate_operators
from symdescent_pysr.plugin import PySRRefiner

CUSTOM = OperatorSet([define("softsign", "x / (1 + abs(x))"), define("sinc", np.sinc)])


def test_a_formula_operator_is_translated_by_its_body():
    with CUSTOM.use():
        t = translate_operators(["add", "mul", "softsign"])
        assert t.expanded == ("softsign",) and t.untranslated == ()
        assert t.binary_operators == ("+", "*", "/") and t.unary_operators == ("abs",)
        assert "softsign" not in t.mapping
        cand = Candidate(parse("softsign(2.5 * x0)"), "descent", Score(0.1, 4, 0.1, 0.9))
        guesses = build_guesses([cand], t.mapping, ["x0"], limit=5, max_size=20)
    assert guesses == ["((2.5 * x0) / (1.0 + abs((2.5 * x0))))"]


def test_a_python_function_operator_is_refused_by_name():
    with CUSTOM.use():
        assert translate_operators(["add", "sinc"]).untranslated == ("sinc",)
        ctx = PluginContext(name="pysr", role="refiner", config=None, seed=7, rng=derive_rng(7, "pysr"), shared={},
                            search=Config(search=SearchConfig(operators=("add", "sinc"))))
        with pytest.raises(PluginError, match="sinc.*one defined by a Python function cannot be"):
            PySRRefiner(ctx)
