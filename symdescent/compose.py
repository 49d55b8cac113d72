"""Found expressions as small named programs, and pipelines that chain them.

A search returns an :class:`~symdescent.expr.Expression` over column indices
(``x0``, ``x1``, ...).  A :class:`NamedProgram` binds it to names: the inputs it
reads and the output it defines, so that it can be called on a dict of arrays
and composed with other programs.  A :class:`Pipeline` (built by
:func:`compose`) chains programs by name, one program's output feeding another
program's input, and exports the whole as sympy (substituted into one
expression per output, or one equation per program), as a numpy callable, and
as JSON that reads back exactly.

Examples
--------
Kinetic energy from a momentum model and a velocity model:

>>> from symdescent.compose import NamedProgram, compose
>>> v = NamedProgram.parse("p / m", inputs=["p", "m"], output="v")
>>> energy = NamedProgram.parse("m * v**2 / 2", inputs=["m", "v"], output="E")
>>> pipe = compose(v, energy)
>>> pipe.inputs, pipe.outputs
(('p', 'm'), ('v', 'E'))
>>> pipe({"p": 6.0, "m": 2.0})["E"]
array(9.)
>>> pipe.to_sympy()["E"]
p**2/(2*m)
>>> Pipeline.from_json(pipe.to_json()) == pipe
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from symdescent.errors import DataError, ExpressionError
from symdescent.expr import Expression, ops
from symdescent.expr.evaluate import evaluate
from symdescent.expr.parse import check_variable_names, parse

FORMAT_VERSION = 1


@dataclass(frozen=True)
class NamedProgram:
    """An expression bound to named inputs and one named output.

    Parameters
    ----------
    expression : Expression
        Variable ``x{i}`` of the expression reads ``inputs[i]``.
    inputs : sequence of str
        Input names, in column order.  Inputs the expression does not use are
        allowed (and need not be given when calling).
    output : str
        The name of the value the program defines.

    Examples
    --------
    >>> import numpy as np
    >>> p = NamedProgram.parse("1.5 * x - x * y", inputs=["x", "y"], output="dx")
    >>> p(x=np.array([1.0, 2.0]), y=1.0)
    array([0.5, 1. ])
    >>> p.equation()
    Eq(dx, -x*y + 3*x/2)
    """

    expression: Expression
    inputs: tuple[str, ...]
    output: str

    def __post_init__(self) -> None:
        if not isinstance(self.expression, Expression):
            raise ExpressionError(f"NamedProgram needs an Expression, got {type(self.expression).__name__}")
        inputs = tuple(str(n) for n in self.inputs)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "output", str(self.output))
        check_variable_names(inputs + (self.output,))  # non-empty, printable, unique, no clash with functions
        used = self.expression.variables
        if used and used[-1] >= len(inputs):
            raise ExpressionError(
                f"program {self.output!r}: the expression reads x{used[-1]} but only "
                f"{len(inputs)} input name(s) were given ({', '.join(inputs)})"
            )

    # -- construction ---------------------------------------------------------
    @classmethod
    def parse(cls, text: str, inputs: Sequence[str], output: str) -> "NamedProgram":
        """Parse an infix string over the input names (see :func:`symdescent.expr.parse`)."""
        return cls(parse(text, list(inputs)), tuple(inputs), output)

    @classmethod
    def from_estimator(cls, estimator, output: str = "y", index: int | None = None) -> "NamedProgram":
        """The fitted model of a :class:`~symdescent.SymbolicRegressor` (or front member ``index``)."""
        expr = estimator.expression_ if index is None else estimator.pareto_front_[index].expression
        return cls(expr, tuple(estimator.variable_names_), output)

    @classmethod
    def from_result(cls, result, output: str = "y") -> "NamedProgram":
        """The best model of a :class:`~symdescent.types.SearchResult`."""
        if result.best is None:
            raise DataError("the search result has no valid model")
        return cls(result.best.expression, tuple(result.variable_names), output)

    # -- views ------------------------------------------------------------------
    @property
    def used_inputs(self) -> tuple[str, ...]:
        """The inputs the expression actually reads."""
        return tuple(self.inputs[i] for i in self.expression.variables)

    @property
    def complexity(self) -> int:
        return self.expression.complexity

    def to_sympy(self):
        """The expression as sympy, over symbols named like the inputs."""
        return self.expression.to_sympy(self.inputs)

    def equation(self):
        """``sympy.Eq(output, expression)``."""
        import sympy

        return sympy.Eq(_symbol(self.output), self.to_sympy())

    def to_infix(self, precision: int | None = None) -> str:
        return self.expression.to_infix(self.inputs, precision=precision)

    def to_latex(self, precision: int = 4) -> str:
        import sympy

        return f"{sympy.latex(_symbol(self.output))} = {self.expression.to_latex(self.inputs, precision)}"

    def to_callable(self):
        """A numpy function ``f(X)``: the columns of ``X`` are the inputs in order."""
        return self.expression.to_callable()

    # -- evaluation -------------------------------------------------------------
    def __call__(self, data: Mapping[str, Any] | np.ndarray | None = None, /, **arrays) -> np.ndarray:
        """Evaluate on named values (a mapping or keywords, broadcast together)
        or on an array whose last axis holds the inputs in order."""
        if data is not None and not isinstance(data, Mapping) and not hasattr(data, "columns"):
            X = np.asarray(data, dtype=float)
            if X.shape[-1:] != (len(self.inputs),):
                raise DataError(f"program {self.output!r} takes {len(self.inputs)} input column(s) "
                                f"({', '.join(self.inputs)}), got an array of shape {X.shape}")
            flat = X.reshape(-1, len(self.inputs))
            return evaluate(self.expression, flat).reshape(X.shape[:-1])
        values = {**(dict(data) if data is not None else {}), **arrays}
        return _evaluate_named(self, values)

    # -- JSON -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": "symdescent-program", "version": FORMAT_VERSION, "inputs": list(self.inputs),
                "output": self.output, "expression": self.expression.to_dict(self.inputs)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "NamedProgram":
        if not isinstance(data, Mapping) or data.get("format") != "symdescent-program":
            raise ExpressionError("not a program record (missing format: symdescent-program)")
        try:
            return cls(Expression.from_dict(data["expression"]), tuple(data["inputs"]), data["output"])
        except KeyError as exc:
            raise ExpressionError(f"program record lacks {exc}") from None

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "NamedProgram":
        return cls.from_dict(_loads(text))

    def __str__(self) -> str:
        return f"{self.output} = {self.to_infix()}"


def _symbol(name: str):
    import sympy

    return sympy.Symbol(name, real=True)  # the same symbols Expression.to_sympy makes


def _evaluate_named(program: NamedProgram, values: Mapping[str, Any]) -> np.ndarray:
    used = program.used_inputs
    missing = [n for n in used if n not in values]
    if missing:
        raise DataError(f"program {program.output!r} needs input(s) {', '.join(missing)}; "
                        f"given: {', '.join(values) or 'none'}")
    present = [np.asarray(values[n], dtype=float) for n in program.inputs if n in values]
    shape = np.broadcast_shapes(*(a.shape for a in present)) if present else ()
    n = int(np.prod(shape, dtype=int))
    X = np.zeros((n, max(program.expression.variables, default=-1) + 1))
    for i in program.expression.variables:
        X[:, i] = np.broadcast_to(np.asarray(values[program.inputs[i]], dtype=float), shape).ravel()
    return evaluate(program.expression, X).reshape(shape)


class Pipeline:
    """Named programs chained by name: each output may feed later programs' inputs.

    Parameters
    ----------
    programs : iterable of NamedProgram
        In any order; they are sorted so that every program runs after the
        programs whose outputs it reads.  Outputs must be unique and the
        dependencies acyclic.
    outputs : sequence of str, optional
        The values the pipeline returns (default: every program's output, in
        evaluation order).

    Attributes
    ----------
    programs : tuple of NamedProgram
        In evaluation order.
    inputs : tuple of str
        Names no program defines, which callers must supply (order of first use).
    outputs : tuple of str
    """

    def __init__(self, programs: Iterable[NamedProgram], outputs: Sequence[str] | None = None):
        programs = list(programs)
        if not programs:
            raise ExpressionError("a pipeline needs at least one program")
        by_output: dict[str, NamedProgram] = {}
        for p in programs:
            if not isinstance(p, NamedProgram):
                raise ExpressionError(f"a pipeline holds NamedProgram objects, got {type(p).__name__}")
            if p.output in by_output:
                raise ExpressionError(f"two programs define {p.output!r}")
            by_output[p.output] = p
        self.programs = _topological(programs, by_output)
        self._by_output = by_output
        inputs: list[str] = []
        for p in self.programs:
            inputs += [n for n in p.inputs if n not in by_output and n not in inputs]
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs) if outputs is not None else tuple(p.output for p in self.programs)
        unknown = [o for o in self.outputs if o not in by_output]
        if unknown:
            raise ExpressionError(f"no program defines {', '.join(unknown)}; defined: {', '.join(by_output)}")

    def __getitem__(self, output: str) -> NamedProgram:
        return self._by_output[output]

    def __eq__(self, other) -> bool:
        return isinstance(other, Pipeline) and self.programs == other.programs and self.outputs == other.outputs

    def __repr__(self) -> str:
        return f"Pipeline({'; '.join(str(p) for p in self.programs)})"

    # -- evaluation -------------------------------------------------------------
    def __call__(self, data: Mapping[str, Any] | np.ndarray | None = None, /, **arrays) -> dict[str, np.ndarray]:
        """Run the programs in order; returns ``{output: values}``.

        ``data`` is a mapping of input names to values (or keywords), or an
        array whose last axis holds :attr:`inputs` in order.
        """
        if data is not None and not isinstance(data, Mapping) and not hasattr(data, "columns"):
            X = np.asarray(data, dtype=float)
            if X.shape[-1:] != (len(self.inputs),):
                raise DataError(f"the pipeline takes {len(self.inputs)} input column(s) "
                                f"({', '.join(self.inputs)}), got an array of shape {X.shape}")
            env: dict[str, Any] = {n: X[..., i] for i, n in enumerate(self.inputs)}
        else:
            env = {**(dict(data) if data is not None else {}), **arrays}
        for p in self.programs:
            env[p.output] = p(env)
        return {o: env[o] for o in self.outputs}

    def to_callable(self, inputs: Sequence[str] | None = None, outputs: Sequence[str] | None = None):
        """A numpy function ``f(X) -> Y`` with named column orders.

        ``X`` has shape ``(..., len(inputs))`` and ``Y`` shape
        ``(..., len(outputs))``: for example the right-hand side of an ODE
        system for :func:`scipy.integrate.solve_ivp`, ``lambda t, s: f(s)``.
        """
        inputs = tuple(inputs) if inputs is not None else self.inputs
        outputs = tuple(outputs) if outputs is not None else self.outputs
        missing = [n for n in self.inputs if n not in inputs]
        if missing:
            raise DataError(f"the pipeline needs input(s) {', '.join(missing)}")
        steps = self.programs

        def f(X):
            X = np.asarray(X, dtype=float)
            env: dict[str, Any] = {n: X[..., i] for i, n in enumerate(inputs)}
            for p in steps:
                env[p.output] = p(env)
            return np.stack([np.broadcast_to(env[o], X.shape[:-1]) for o in outputs], axis=-1)

        f.__doc__ = f"Evaluate ({', '.join(outputs)}) from ({', '.join(inputs)}) along the last axis."
        return f

    # -- symbolic views -----------------------------------------------------------
    def flatten(self, output: str) -> NamedProgram:
        """One program for ``output`` over :attr:`inputs`, intermediates substituted.

        >>> a = NamedProgram.parse("2 * x", ["x"], "u")
        >>> b = NamedProgram.parse("u + y", ["u", "y"], "z")
        >>> str(compose(a, b).flatten("z"))
        'z = 2 * x + y'
        """
        tokens, consts = self._splice(self[output])
        return NamedProgram(Expression(tuple(tokens), tuple(consts)), self.inputs, output)

    def _splice(self, program: NamedProgram) -> tuple[list[str], list[float]]:
        tokens: list[str] = []
        consts: list[float] = []
        ci = 0
        for tok in program.expression.tokens:
            if tok == ops.CONST:
                tokens.append(tok)
                consts.append(program.expression.constants[ci])
                ci += 1
            elif ops.is_variable(tok):
                name = program.inputs[ops.variable_index(tok)]
                if name in self._by_output:
                    t, c = self._splice(self._by_output[name])
                    tokens += t
                    consts += c
                else:
                    tokens.append(f"x{self.inputs.index(name)}")
            else:
                tokens.append(tok)
        return tokens, consts

    def to_sympy(self, substitute: bool = True) -> dict[str, Any]:
        """``{output: sympy expression}``.

        With ``substitute`` every output is written over :attr:`inputs` alone;
        without it, each program's own expression (intermediates as symbols).
        """
        if substitute:
            return {o: self.flatten(o).to_sympy() for o in self.outputs}
        return {p.output: p.to_sympy() for p in self.programs}

    def equations(self, substitute: bool = False) -> list:
        """One ``sympy.Eq`` per program (or per output, substituted)."""
        import sympy

        return [sympy.Eq(_symbol(o), e) for o, e in self.to_sympy(substitute).items()]

    # -- JSON -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": "symdescent-pipeline", "version": FORMAT_VERSION, "outputs": list(self.outputs),
                "programs": [p.to_dict() for p in self.programs]}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Pipeline":
        """Read :meth:`to_dict` output (a single program record is accepted too)."""
        if isinstance(data, Mapping) and data.get("format") == "symdescent-program":
            return cls([NamedProgram.from_dict(data)])
        if not isinstance(data, Mapping) or data.get("format") != "symdescent-pipeline":
            raise ExpressionError("not a pipeline record (missing format: symdescent-pipeline)")
        return cls([NamedProgram.from_dict(p) for p in data.get("programs", [])], data.get("outputs"))

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "Pipeline":
        return cls.from_dict(_loads(text))


def compose(*parts: NamedProgram | Pipeline, outputs: Sequence[str] | None = None) -> Pipeline:
    """Chain programs (and pipelines) by name into one :class:`Pipeline`.

    Examples
    --------
    A two-variable ODE system as one vector function:

    >>> import numpy as np
    >>> dx = NamedProgram.parse("x - x * y", ["x", "y"], "dx")
    >>> dy = NamedProgram.parse("x * y - y", ["x", "y"], "dy")
    >>> rhs = compose(dx, dy).to_callable(inputs=["x", "y"])
    >>> rhs(np.array([2.0, 3.0]))
    array([-4.,  3.])
    """
    programs: list[NamedProgram] = []
    for part in parts:
        if isinstance(part, Pipeline):
            programs += part.programs
        elif isinstance(part, NamedProgram):
            programs.append(part)
        else:
            raise ExpressionError(f"compose takes NamedProgram and Pipeline objects, got {type(part).__name__}")
    return Pipeline(programs, outputs)


def _topological(programs: list[NamedProgram], by_output: Mapping[str, NamedProgram]) -> tuple[NamedProgram, ...]:
    order: list[NamedProgram] = []
    state: dict[str, int] = {}  # 1: in progress, 2: done

    def visit(p: NamedProgram, path: tuple[str, ...]) -> None:
        if state.get(p.output) == 2:
            return
        if state.get(p.output) == 1:
            raise ExpressionError(f"programs depend on each other in a cycle: {' -> '.join(path + (p.output,))}")
        state[p.output] = 1
        for name in p.inputs:
            if name in by_output:
                visit(by_output[name], path + (p.output,))
        state[p.output] = 2
        order.append(p)

    for p in programs:
        visit(p, ())
    return tuple(order)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExpressionError(f"invalid JSON: {exc}") from None
    except RecursionError:  # json's decoder recurses per level of nesting
        raise ExpressionError("invalid JSON: arrays or objects nested too deeply") from None


__all__ = ["NamedProgram", "Pipeline", "compose"]
