"""The torch module of an expression (imported only by :func:`symdescent.expr.export.to_torch`)."""

from __future__ import annotations

from typing import Sequence

import torch

from symdescent.errors import ExpressionError
from symdescent.expr import scope
from symdescent.expr.export import walk


class TorchExpression(torch.nn.Module):
    """An expression as a :class:`torch.nn.Module`, its constants trainable.

    Parameters
    ----------
    expression : Expression
    variable_names : sequence of str, optional
        Used for its ``repr`` only.
    dtype : torch.dtype
        Of the constants (default float64).

    Attributes
    ----------
    constants : torch.nn.Parameter, shape (k,)
        The values of the placeholders ``C``, in the order of
        ``expression.constants``; an optimiser fine-tunes them, and
        :meth:`to_expression` reads them back.

    Examples
    --------
    >>> import torch
    >>> from symdescent.expr import parse
    >>> m = parse("2.5 * sin(x0) + 1.0").to_torch()
    >>> m(torch.zeros(3, 1, dtype=torch.float64))
    tensor([1., 1., 1.], dtype=torch.float64, grad_fn=<AddBackward0>)
    >>> m(torch.ones(4, 1, dtype=torch.float64)).sum().backward()
    >>> m.constants.grad.shape
    torch.Size([2])
    """

    def __init__(self, expression, variable_names: Sequence[str] | None = None, dtype=torch.float64):
        super().__init__()
        self.tokens = tuple(expression.tokens)
        self.operators = expression.operators  # its user operators (None: built-ins only)
        self.constants = torch.nn.Parameter(torch.tensor(expression.constants, dtype=dtype).reshape(-1))
        self.variable_names = None if variable_names is None else tuple(variable_names)
        used = expression.variables
        self.n_features = used[-1] + 1 if used else 0
        self._infix = expression.to_infix(variable_names)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Values on the rows of ``X`` (shape ``(n, d)``); returns shape ``(n,)``."""
        if X.ndim != 2 or X.shape[1] < self.n_features:
            raise ExpressionError(f"the expression reads {self.n_features} column(s) of X, shape (n, d); "
                            f"got shape {tuple(X.shape)}")
        with scope.extended(self.operators):
            out = walk(self.tokens, torch, self.constants, lambda j: X[:, j],
                       lambda v: torch.tensor(v, dtype=self.constants.dtype, device=X.device))
        return out.expand(X.shape[0]) if out.ndim == 0 else out

    def to_expression(self):
        """The expression with the module's current constants (after fine-tuning, say)."""
        from symdescent.expr import Expression

        return Expression(self.tokens, tuple(float(c) for c in self.constants.detach().cpu()), self.operators)

    def extra_repr(self) -> str:
        return self._infix
