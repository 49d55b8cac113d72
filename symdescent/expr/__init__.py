"""The expression core: vocabulary, prefix expressions, parsing, evaluation, fitting."""

from symdescent.expr.expression import Expression, apply, const, variable
from symdescent.expr.evaluate import evaluate, is_valid
from symdescent.expr.parse import parse

__all__ = ["Expression", "apply", "const", "variable", "evaluate", "is_valid", "parse"]
