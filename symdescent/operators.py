"""User-defined operators for a search or an estimator (the public face of :mod:`symdescent.expr.custom`).

A formula over the operators that exist, or a numpy function with its sympy form::

    from symdescent import SymbolicRegressor
    from symdescent.operators import define
    import numpy as np, sympy

    est = SymbolicRegressor(
        operators=["add", "sub", "mul", "softsign", "sinc"],
        extra_operators=[define("softsign", "x / (1 + abs(x))"),
                         define("sinc", np.sinc, sympy=lambda a: sympy.sin(sympy.pi * a) / (sympy.pi * a))],
    )

They belong to that estimator (or search) alone: nothing is registered
globally, and ``with OperatorSet(...).use():`` makes them part of the table for
code of your own, such as ``parse("softsign(x0)")``.
"""

from symdescent.expr.custom import Definition, OperatorSet, UserOperator, define

__all__ = ["Definition", "OperatorSet", "UserOperator", "define"]
