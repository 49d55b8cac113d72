"""LEE's training data draws the operators of the model's vocabulary only, weighted from the operator table
where LEE has no weight of its own."""

import numpy as np

from symdescent.expr import ops
from symdescent_lee import vocab
from symdescent_lee.training.data import LEE_WEIGHTS, DataConfig, SyntheticGenerator, vocabulary_weights


def test_the_weights_are_the_tables_for_the_vocabulary_with_lees_own_where_it_has_them():
    cfg = DataConfig()
    in_vocab = [t for t in vocab.EXPRESSION_TOKENS if t in ops.OPERATORS]
    assert [*cfg.binary_weights, *cfg.unary_weights] == [t for t in in_vocab if ops.arity(t) == 2] + \
        [t for t in in_vocab if ops.arity(t) == 1]
    for tok, w in {**cfg.unary_weights, **cfg.binary_weights}.items():
        assert w == LEE_WEIGHTS.get(tok, ops.OPERATORS[tok].weight), tok
    assert cfg.binary_weights == vocabulary_weights(2) == {"add": 4.0, "sub": 3.0, "mul": 7.0, "div": 5.0, "pow": 1.0}


def test_an_operator_outside_the_vocabulary_is_never_drawn(monkeypatch):
    for name in ("OPERATORS", "BINARY", "UNARY", "FUNCTION_ALIASES"):
        monkeypatch.setattr(ops, name, dict(getattr(ops, name)))
    ops.register(ops.Operator("softplus", 1, lambda a: np.log1p(np.exp(a)), lambda a, f: (1 / (1 + np.exp(-a)),),
                              "softplus", sympy="softplus", array="softplus", weight=50.0, description="softplus"))
    cfg = DataConfig()
    assert "softplus" not in cfg.unary_weights
    batch = SyntheticGenerator(cfg, seed=0).batch(0, 8)  # every drawn token has an id (encoding would fail)
    assert all(np.asarray(v).size for v in batch.values())
