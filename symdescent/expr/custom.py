"""What one search adds to the operator table: user-defined operators, per-operator complexity, nesting limits.

User-defined operators
----------------------
A user operator is either a *formula* over the operators that exist already,
written in the safe infix syntax of :mod:`symdescent.expr.parse` with the
variable ``x`` (and ``y`` for a binary one)::

    softsign = "x / (1 + abs(x))"        # unary: uses x
    hypot = "sqrt(x**2 + y**2)"          # binary: uses y

or a *Python function* (numpy-vectorised) with its sympy form
(:func:`define`).  An :class:`OperatorSet` holds those of one search and makes
them part of the table only inside ``with operator_set.use():`` (a context
variable, :func:`symdescent.expr.scope.extended`): two searches, estimators or
threads with different user operators never see each other's, and nothing is
registered globally.  Inside that block each one is a token like a built-in:
the parser reads ``softsign(x0)``, the grammar samples it (weight 1), the
mutations swap it, and it is one node of the tree, so
``softsign(2*x0 - x1)`` has complexity 6 (its own complexity is 1 unless
the ``[complexity]`` table says otherwise).  An :class:`~symdescent.expr.Expression`
made inside the block keeps a reference to the set, so that it prints,
evaluates and converts to sympy anywhere later.

How each path computes it:

* the compiled kernels (the search's fits) run a formula operator *inlined*:
  :func:`inline` writes its body in place of the node, so the compiled
  program of ``softsign(2*x0 - x1)`` is that of
  ``(2*x0 - x1) / (1 + abs(2*x0 - x1))`` (the argument's constants are the
  same constants, counted once);
* numpy (:mod:`symdescent.expr.evaluate`) evaluates the body, and its
  derivative is the body's forward-mode derivative;
* a Python function has no compiled form: an expression that uses one is
  evaluated and fitted on the numpy reference path (constants by scipy's
  Levenberg-Marquardt on the forward-mode Jacobian, the function's own
  derivative being a central finite difference unless one is given), several
  times slower; the search says so once (a warning);
* sympy: a :class:`sympy.Function` named after the operator, so it prints as
  ``softsign(2*x0 - x1)`` and in LaTeX as ``\\operatorname{softsign}``, and
  whose ``doit()`` / ``sympy.expand_func`` is the body (a Python function's
  sympy form, when it gives one); :func:`symdescent.expr.sympy_bridge.from_sympy`
  reads it back;
* torch and jax (:mod:`symdescent.expr.export`): a formula's body (a Python
  function has no torch or jax form);
* units (:mod:`symdescent.expr.units`): a formula's dimension rule is derived
  from its body (:func:`derived_rule`); a Python function's is declared
  (``units=``) or else it needs a dimensionless argument and gives a
  dimensionless result.

Complexity and nesting
----------------------
:func:`complexity` weighs each node (PySR's ``complexity_of_operators``,
``complexity_of_variables``, ``complexity_of_constants``); with every weight
1 it is the node count, :attr:`Expression.complexity`.
:func:`nesting_violations` counts where an operator appears inside another
more often than allowed (PySR's ``nested_constraints``: ``{"sin": {"sin": 0,
"cos": 0}}`` forbids ``sin`` and ``cos`` anywhere below a ``sin``;
``{"exp": {"exp": 1}}`` allows ``exp(exp(x))`` but not three deep).

Examples
--------
>>> import numpy as np
>>> from symdescent.expr import parse
>>> custom = OperatorSet({"softsign": "x / (1 + abs(x))"})
>>> with custom.use():
...     e = parse("softsign(2*x0 - x1)")
>>> e.complexity, e.to_infix()
(6, 'softsign(2 * x0 - x1)')
>>> e.evaluate(np.array([[1.0, 0.0], [0.0, 3.0]])).tolist()
[0.6666666666666666, -0.75]
>>> e.to_sympy()
softsign(2*x0 - x1)
>>> e.to_sympy().doit()
(2*x0 - x1)/(Abs(2*x0 - x1) + 1)
>>> complexity(e.tokens, {"softsign": 3})
8
>>> nesting_violations(parse("sin(x0 + sin(x1))").tokens, {"sin": {"sin": 0}})
1
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from symdescent.errors import ExpressionError, did_you_mean
from symdescent.expr import ops, scope
from symdescent.expr.expression import Expression, fold

#: the variable names of a formula's body: ``x`` is the first argument, ``y`` the second
ARGUMENTS = ("x", "y")

#: what a complexity table may weigh besides operators: every variable, every constant (fitted or literal)
LEAF_WEIGHTS = ("variable", "constant")

#: the keys of a definition given as a mapping (see :func:`define`)
DEFINITION_KEYS = ("formula", "numpy", "sympy", "arity", "derivative", "complexity", "units", "description")

#: the dimension rules a Python function may declare (``units=``): the kinds of :mod:`symdescent.expr.units`
#: by name, or a number (the argument's exponents scaled by it: 2 for a square)
UNIT_RULES = ("same", "product", "quotient", "keep", "dimensionless")


# ---------------------------------------------------------------------------
# definitions: what the user writes, picklable
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Definition:
    """One user operator as the user defined it (see :func:`define`); picklable when its functions are.

    Exactly one of ``formula`` (the body's text) and ``numpy`` (a vectorised function) is set.
    """

    name: str
    formula: str | None = None
    numpy: Callable[..., Any] | None = None
    arity: int | None = None
    sympy: Any = None
    derivative: Callable[..., Any] | None = None
    complexity: int = 1
    units: Any = None
    description: str | None = None


def define(name: str, definition: str | Callable[..., Any], *, arity: int | None = None, sympy: Any = None,
           derivative: Callable[..., Any] | None = None, complexity: int = 1, units: Any = None,
           description: str | None = None) -> Definition:
    """Define a user operator, for an :class:`OperatorSet` (the estimator's ``extra_operators``).

    Parameters
    ----------
    name : str
        Its token and the name ``search.operators`` and formulas use: an identifier that is not a built-in
        operator's or function's name, ``C``, ``pi``, ``x``, ``y`` nor ``x0``, ``x1`` ...
    definition : str or callable
        A formula over ``x`` (and ``y``: then it is binary) and the operators that exist (the built-ins, the
        user operators defined beside it, in any order; not itself); its numbers are fixed, not fitted.  Or a
        numpy-vectorised function of one or two arrays (then evaluated on the slower numpy path).
    arity : int, optional
        1 or 2: for a formula, what its variables say (``y``: 2); for a function, its number of parameters.
    sympy : callable or sympy Function class, optional
        A Python function's sympy form: a callable building it from the arguments' sympy forms (``lambda a:
        sympy.sinh(a)``, the expansion of the named function the operator prints as), or a sympy function
        class used as it is.  None: a named function without expansion.  (A formula's is derived.)
    derivative : callable, optional
        A Python function's partial derivatives, ``derivative(a, f)`` or ``derivative(a, b, f)`` returning a
        tuple (as :attr:`symdescent.expr.ops.Operator.derivative`); None: central finite differences.
    complexity : int
        The complexity of one node of it (default 1; a ``[complexity]`` table overrides it).
    units : str or number, optional
        A Python function's dimension rule (:data:`UNIT_RULES` or a number); None: it needs a dimensionless
        argument and gives a dimensionless result.  A formula's rule is derived from its body.
    description : str, optional
        One line for ``symdescent operators`` (default: the formula).

    >>> define("softsign", "x / (1 + abs(x))")
    Definition(name='softsign', formula='x / (1 + abs(x))', numpy=None, arity=None, sympy=None, derivative=None, complexity=1, units=None, description=None)
    """
    if isinstance(definition, str):
        for key, value in (("sympy", sympy), ("derivative", derivative), ("units", units)):
            if value is not None:
                raise ExpressionError(f"operator {name!r}: {key}= is for a Python function; a formula's is "
                                      f"derived from it")
        return Definition(name, formula=str(definition), arity=arity, complexity=complexity, description=description)
    if not callable(definition):
        raise ExpressionError(f"operator {name!r}: define it by a formula (a string over x and y) or a numpy "
                              f"function, got {type(definition).__name__}")
    return Definition(name, numpy=definition, arity=arity, sympy=sympy, derivative=derivative,
                      complexity=complexity, units=units, description=description)


def as_definition(name: str, value: Any) -> Definition:
    """``value`` (a formula string, a callable, a mapping of :data:`DEFINITION_KEYS` or a :class:`Definition`)
    as the :class:`Definition` of operator ``name``.

    >>> as_definition("hypot", {"formula": "sqrt(x**2 + y**2)", "complexity": 2}).complexity
    2
    >>> as_definition("f", {"numpi": abs})
    Traceback (most recent call last):
    ...
    symdescent.errors.ExpressionError: operator 'f': unknown key 'numpi'; did you mean 'numpy'?; keys: formula, numpy, sympy, arity, derivative, complexity, units, description
    """
    if isinstance(value, Definition):
        if value.name != name:
            raise ExpressionError(f"operator {name!r} is given the definition of {value.name!r}")
        return value
    if isinstance(value, Mapping):
        for key in value:
            if key not in DEFINITION_KEYS:
                raise ExpressionError(f"operator {name!r}: unknown key {key!r}{did_you_mean(key, DEFINITION_KEYS)}; "
                                      f"keys: {', '.join(DEFINITION_KEYS)}")
        body = [k for k in ("formula", "numpy") if value.get(k) is not None]
        if len(body) != 1:
            raise ExpressionError(f"operator {name!r}: give either formula (a string over x and y) or numpy (a "
                                  f"vectorised Python function)")
        if body[0] == "formula" and not isinstance(value["formula"], str):
            raise ExpressionError(f"operator {name!r}: formula must be a string over x and y, got "
                                  f"{type(value['formula']).__name__}")
        if body[0] == "numpy" and not callable(value["numpy"]):
            raise ExpressionError(f"operator {name!r}: numpy must be a Python function (given from Python; a "
                                  f"configuration file defines operators by formulas only), got {value['numpy']!r}")
        rest = {k: v for k, v in value.items() if k not in ("formula", "numpy")}
        return define(name, value[body[0]], **rest)
    if isinstance(value, str) or callable(value):
        return define(name, value)
    raise ExpressionError(f"operator {name!r}: define it by a formula (a string over x and y), a numpy function "
                          f"or a mapping with formula or numpy, got {type(value).__name__}")


def as_definitions(operators: Mapping[str, Any] | Iterable[Definition] | None) -> tuple[Definition, ...]:
    """A mapping ``{name: definition}`` or an iterable of :class:`Definition` as definitions, in order."""
    if operators is None:
        return ()
    if isinstance(operators, OperatorSet):
        return operators.definitions
    if isinstance(operators, Mapping):
        out = []
        for name, value in operators.items():
            if not isinstance(name, str):
                raise ExpressionError(f"an operator's name must be a string, got {name!r}")
            out.append(as_definition(name, value))
        return tuple(out)
    out = list(operators)
    for d in out:
        if not isinstance(d, Definition):
            raise ExpressionError(f"expected {{name: definition}} or a list of define(...) results, got an item "
                                  f"{d!r}")
    return tuple(out)


# ---------------------------------------------------------------------------
# the operators built from the definitions
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class UserOperator(ops.Operator):
    """A user operator as the table holds it: an :class:`~symdescent.expr.ops.Operator` (no opcode) plus
    ``formula`` (the text, None for a Python function), ``body`` (the formula over ``x0`` = x and ``x1`` = y
    with the user operators it uses inlined, its numbers fixed constants; None for a Python function) and
    ``units`` (the declared dimension rule)."""

    formula: str | None = None
    body: Expression | None = None
    units: Any = None

    @property
    def compiled(self) -> bool:
        """Whether expressions using it run on the compiled kernels (a formula over compiled operators)."""
        return self.body is not None and all(ops.arity(t) == 0 or ops.OPERATORS[t].opcode is not None
                                             for t in self.body.tokens)

    @functools.cached_property
    def dimension_rule(self):
        """Its rule for :mod:`symdescent.expr.units`: declared, derived from the body (:func:`derived_rule`) or
        dimensionless in and out."""
        from symdescent.expr import units

        if self.units is not None:
            return declared_rule(self.name, self.units, self.arity)
        if self.body is not None:
            return derived_rule(self.body, self.arity)
        return units.DIMENSIONLESS_ONLY


def declared_rule(name: str, rule: Any, arity: int):
    """A declared dimension rule (:data:`UNIT_RULES` or a number) as :mod:`symdescent.expr.units` spells it."""
    from symdescent.expr import units

    if isinstance(rule, (int, float, Fraction)) and not isinstance(rule, bool):
        if arity != 1 or not math.isfinite(rule):
            raise ExpressionError(f"operator {name!r}: a number as units (scaling the exponents) is for a unary "
                                  f"operator, and finite")
        return Fraction(rule).limit_denominator(1000)
    kinds = {"same": units.SAME, "product": units.PRODUCT, "quotient": units.QUOTIENT, "keep": units.KEEP,
             "dimensionless": units.DIMENSIONLESS_ONLY}
    if rule not in kinds:
        raise ExpressionError(f"operator {name!r}: unknown units rule {rule!r}{did_you_mean(str(rule), kinds)}; "
                              f"rules: {', '.join(UNIT_RULES)} or a number")
    binary_only = {units.SAME, units.PRODUCT, units.QUOTIENT}
    if (kinds[rule] in binary_only) != (arity == 2) and kinds[rule] != units.DIMENSIONLESS_ONLY:
        raise ExpressionError(f"operator {name!r}: units rule {rule!r} is for a "
                              f"{'binary' if kinds[rule] in binary_only else 'unary'} operator")
    return kinds[rule]


def derived_rule(body: Expression, arity: int):
    """The dimension rule a formula's body obeys, found by checking it on test dimensions.

    Unary: ``keep`` (the argument's dimension), a power (``x**2``: 2) or, when it needs a dimensionless
    argument (or fits no rule), ``dimensionless``.  Binary: ``same``, ``product``, ``quotient`` or
    ``dimensionless``.  The body's numbers are dimensionless.

    >>> from symdescent.expr import parse
    >>> derived_rule(parse("x / (1 + abs(x))", ["x"]), 1), derived_rule(parse("x * sqrt(x)", ["x"]), 1)
    ('dimensionless', Fraction(3, 2))
    >>> derived_rule(parse("sqrt(x**2 + y**2)", ["x", "y"]), 2), derived_rule(parse("x / (x + y)", ["x", "y"]), 2)
    ('same', 'dimensionless')
    """
    from symdescent.expr import units

    m, s = units.Dimension.base("m"), units.Dimension.base("s")

    def dimension(*dims):
        r = units.check_dimensions(body, list(dims), free_constants=False)
        return r.dimension if r.violations == 0 else False

    if arity == 1:
        d = dimension(m)
        if d is not False and d is not None and d == m ** d.exponents[0]:
            k = d.exponents[0]
            return units.KEEP if k == 1 else k
        return units.DIMENSIONLESS_ONLY
    d = dimension(m, s)
    if d is not False and d == m * s:
        return units.PRODUCT
    if d is not False and d == m / s:
        return units.QUOTIENT
    if dimension(m, m) == m:
        return units.SAME
    return units.DIMENSIONLESS_ONLY


def _calls(name: str, formula: str) -> set[str]:
    """The function names ``formula`` calls (the names followed by ``(``): what it depends on."""
    from symdescent.expr.parse import tokenize

    try:
        toks = tokenize(formula)
    except ExpressionError as exc:
        raise ExpressionError(f"operator {name!r}: {exc}") from None
    if any(kind == "name" and text == ops.CONST for kind, text, _ in toks):
        raise ExpressionError(f"operator {name!r}: a formula's numbers are fixed, so it cannot hold the fitted "
                              f"constant C; write C outside it, e.g. {name}(C * x0)")
    return {text for (kind, text, _), nxt in zip(toks, toks[1:]) if kind == "name" and nxt[1] == "("}


def check_name(name: str) -> None:
    """Raise :class:`ExpressionError` unless ``name`` can name a user operator (it shadows nothing)."""
    if not (isinstance(name, str) and name.isidentifier() and name.isascii()):
        raise ExpressionError(f"operator name {name!r} must be an identifier (letters, digits, _)")
    if any(dict.__contains__(table, name) for table in (ops.OPERATORS, ops.FUNCTION_ALIASES, ops.LITERALS)):
        raise ExpressionError(f"operator name {name!r} is a built-in operator or function name "
                              f"('symdescent operators' lists them); give yours another name, e.g. 'my_{name}'")
    if name in (ops.CONST, "pi") or name in ARGUMENTS or ops.is_variable(name):
        raise ExpressionError(f"operator name {name!r} is taken by the grammar (C, pi, the variables x, y and "
                              f"x0, x1, ...)")


def _order(defs: Sequence[Definition]) -> list[Definition]:
    """``defs`` with each formula after the user operators it calls; a cycle (or self-reference) is an error."""
    by_name = {d.name: d for d in defs}
    deps = {d.name: sorted(_calls(d.name, d.formula) & set(by_name)) if d.formula is not None else [] for d in defs}
    done: dict[str, None] = {}

    def visit(name: str, path: list[str]) -> None:
        if name in done:
            return
        if name in path:
            cycle = path[path.index(name):] + [name]
            if len(cycle) == 2:
                raise ExpressionError(f"operator {name!r} calls itself in its formula {by_name[name].formula!r}")
            raise ExpressionError(f"operators {' -> '.join(cycle)} call each other in a cycle")
        for dep in deps[name]:
            visit(dep, path + [name])
        done[name] = None

    for d in defs:
        visit(d.name, [])
    return [by_name[n] for n in done]


class OperatorSet(scope.Extension):
    """The user operators of one search (or estimator), built from their definitions.

    Parameters
    ----------
    operators : mapping or iterable, optional
        ``{name: definition}`` (a formula string, a numpy function, a mapping of :data:`DEFINITION_KEYS` or a
        :class:`Definition`) or an iterable of :func:`define` results.

    An empty set changes nothing.  :meth:`use` makes the operators part of the table within a ``with``
    block.  A set pickles as its definitions (a Python function by reference; a lambda needs cloudpickle,
    which Dask uses) and is rebuilt where it is unpickled.
    """

    def __init__(self, operators: Mapping[str, Any] | Iterable[Definition] | None = None):
        self.definitions = as_definitions(operators)
        seen: set[str] = set()
        for d in self.definitions:
            check_name(d.name)
            if d.name in seen:
                raise ExpressionError(f"operator {d.name!r} is defined twice")
            seen.add(d.name)
        built: dict[str, UserOperator] = {}
        order = _order(self.definitions)
        for d in order:
            with scope.extended(scope.Extension(built)):
                built[d.name] = _build(d)
        super().__init__({d.name: built[d.name] for d in self.definitions})

    def __reduce__(self):
        return (OperatorSet, (self.definitions,))

    def __repr__(self) -> str:
        return f"OperatorSet({', '.join(self.operators) or 'none'})"

    def __bool__(self) -> bool:
        return bool(self.operators)

    def __len__(self) -> int:
        return len(self.operators)

    def __iter__(self):
        return iter(self.operators)

    def __contains__(self, name: object) -> bool:
        return name in self.operators

    def __getitem__(self, name: str) -> UserOperator:
        return self.operators[name]

    def use(self):
        """A context manager within which these operators are part of the table (:func:`scope.extended`)."""
        return scope.extended(self if self.operators else None)

    def formulas(self) -> dict[str, str]:
        """``{name: formula}`` of the formula operators: what a configuration file or a saved model records."""
        return {d.name: d.formula for d in self.definitions if d.formula is not None}

    def functions(self) -> tuple[str, ...]:
        """The names of the operators defined by Python functions."""
        return tuple(d.name for d in self.definitions if d.numpy is not None)

    def uncompiled(self, names: Iterable[str]) -> tuple[str, ...]:
        """Those of ``names`` that are operators of this set without a compiled form (see :attr:`UserOperator.compiled`)."""
        return tuple(n for n in names if n in self.operators and not self.operators[n].compiled)

    def check_variables(self, names: Sequence[str]) -> None:
        """Raise :class:`ExpressionError` when a variable (a column name) has an operator's name."""
        for name in names:
            if name in self.operators:
                raise ExpressionError(f"the column {name!r} has the name of a user operator; rename one of them")

    def check_picklable(self) -> None:
        """Raise :class:`ExpressionError` naming the operator whose function cannot be sent to another process
        (the islands' Dask workers): pickled as Dask does, with cloudpickle where it is installed."""
        try:
            import cloudpickle as pickler
        except ImportError:  # pragma: no cover - distributed depends on cloudpickle
            import pickle as pickler
        for d in self.definitions:
            try:
                pickler.dumps(d)
            except Exception as exc:  # noqa: BLE001 - pickling raises many types
                raise ExpressionError(f"operator {d.name!r} cannot be sent to the worker processes ({exc}); define "
                                      f"its functions at the top level of a module, or run with one worker") from None

    def dependencies(self, names: Iterable[str]) -> tuple[str, ...]:
        """``names`` and the user operators their formulas call, each once (what a saved model must record)."""
        out: dict[str, None] = {}

        def add(name: str) -> None:
            if name in out or name not in self.operators:
                return
            d = next(d for d in self.definitions if d.name == name)
            for dep in sorted(_calls(name, d.formula) & set(self.operators)) if d.formula is not None else ():
                add(dep)
            out[name] = None

        for n in names:
            add(n)
        return tuple(out)


def saved_operators(expressions: Iterable[Expression]) -> tuple[dict[str, str], tuple[str, ...]]:
    """The user operators ``expressions`` use, with those their formulas call: ``({name: formula}, the names of
    those defined by Python functions)``, what a saved model records (it can hold formulas only)."""
    formulas: dict[str, str] = {}
    functions: dict[str, None] = {}
    for e in expressions:
        opset = e.operators
        if not isinstance(opset, OperatorSet):
            continue
        by_name = {d.name: d for d in opset.definitions}
        for name in opset.dependencies(t for t in e.tokens if t in by_name):
            if by_name[name].formula is not None:
                formulas[name] = by_name[name].formula
            else:
                functions[name] = None
    return formulas, tuple(functions)


def _arity_of(d: Definition, used: Sequence[int] | None) -> int:
    if d.arity is not None and d.arity not in (1, 2):
        raise ExpressionError(f"operator {d.name!r}: arity must be 1 or 2, got {d.arity!r}")
    if used is not None:  # a formula: its variables
        if not used:
            raise ExpressionError(f"operator {d.name!r}: its formula {d.formula!r} uses neither x nor y")
        need = 2 if 1 in used else 1
        if d.arity is not None and d.arity < need:
            raise ExpressionError(f"operator {d.name!r}: arity 1, but its formula uses y")
        return d.arity or need
    if d.arity is not None:
        return d.arity
    try:
        params = [p for p in inspect.signature(d.numpy).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    except (TypeError, ValueError):  # a ufunc or builtin without a signature
        params = []
    nin = getattr(d.numpy, "nin", None)
    n = nin if isinstance(nin, int) else len(params)
    if n not in (1, 2):
        raise ExpressionError(f"operator {d.name!r}: give arity=1 or 2 (its function's parameters do not say)")
    return n


def _build(d: Definition) -> UserOperator:
    """The :class:`UserOperator` of ``d``, inside an extension holding the operators it may call."""
    from symdescent.expr.parse import parse

    if not (isinstance(d.complexity, int) and not isinstance(d.complexity, bool) and d.complexity >= 1):
        raise ExpressionError(f"operator {d.name!r}: complexity must be an integer >= 1, got {d.complexity!r}")
    if d.formula is not None:
        _calls(d.name, d.formula)
        try:
            parsed = parse(d.formula, ARGUMENTS)
        except ExpressionError as exc:
            raise ExpressionError(f"operator {d.name!r}: {exc}") from None
        arity = _arity_of(d, parsed.variables)
        body = expand(parsed)
        sym = _formula_sympy(d.name, arity, parsed)
        return UserOperator(
            d.name, arity, _body_function(body, arity), _body_derivative(body, arity), d.name, sym,
            _body_array(body), complexity=d.complexity, weight=1.0,
            description=d.description or f"user operator: {d.formula}", formula=d.formula, body=body,
        )
    arity = _arity_of(d, None)
    if d.units is not None:
        declared_rule(d.name, d.units, arity)
    func = _numpy_function(d.numpy)
    derivative = d.derivative if d.derivative is not None else _finite_difference(func, arity)
    sym = _function_sympy(d.name, arity, d.sympy, func)
    return UserOperator(
        d.name, arity, func, derivative, d.name, sym, _no_array(d.name), complexity=d.complexity, weight=1.0,
        description=d.description or f"user operator: the Python function {getattr(d.numpy, '__qualname__', d.numpy)}",
        units=d.units,
    )


# -- numpy -----------------------------------------------------------------------
def _columns(args) -> tuple[np.ndarray, tuple]:
    """The arguments broadcast to one shape, as the columns of an ``(n, arity)`` array, and that shape."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
    shape = arrays[0].shape
    return np.stack([a.reshape(-1) for a in arrays], axis=1), shape


def _body_function(body: Expression, arity: int):
    from symdescent.expr.evaluate import evaluate_tokens

    def f(*args):
        X, shape = _columns(args)
        out = evaluate_tokens(body.tokens, body.constants, X)
        return out.reshape(shape) if shape else out[0]

    return f


def _body_derivative(body: Expression, arity: int):
    """The partial derivatives of the body: its forward-mode derivative with the arguments as the constants."""
    from symdescent.expr.evaluate import evaluate_with_jacobian

    tokens = tuple(ops.CONST if t in ("x0", "x1") else t for t in body.tokens)
    which = [int(t[1]) if t in ("x0", "x1") else -1 for t in body.tokens if t in ("x0", "x1") or t == ops.CONST]

    def d(*args):
        X, shape = _columns(args[:arity])
        values = iter(body.constants)
        consts = [X[:, w] if w >= 0 else next(values) for w in which]
        _, J = evaluate_with_jacobian(tokens, consts, np.empty((X.shape[0], 0)))
        parts = []
        for j in range(arity):
            cols = [k for k, w in enumerate(which) if w == j]
            part = J[:, cols].sum(axis=1) if cols else np.zeros(X.shape[0])
            parts.append(part.reshape(shape) if shape else part[0])
        return tuple(parts)

    return d


def _numpy_function(fn):
    def f(*args):
        return np.asarray(fn(*args), dtype=float)

    return f


def _finite_difference(func, arity: int):
    """Central differences, step ``cbrt(eps) * max(1, |a|)``: about 1e-10 relative error for a smooth function."""
    step = np.cbrt(np.finfo(float).eps)

    def d(*args):
        values = [np.asarray(a, dtype=float) for a in args[:arity]]
        out = []
        for j in range(arity):
            h = step * np.maximum(1.0, np.abs(values[j]))
            up, down = list(values), list(values)
            up[j], down[j] = values[j] + h, values[j] - h
            out.append((func(*up) - func(*down)) / (2.0 * h))
        return tuple(out)

    return d


# -- torch / jax --------------------------------------------------------------------
def _body_array(body: Expression):
    def f(module, *args):
        from symdescent.expr.export import walk

        return walk(body.tokens, module, list(body.constants), lambda j: args[j], float)

    return f


def _no_array(name: str):
    def f(module, *args):
        raise ExpressionError(f"operator {name!r} is a Python function: it has no torch or jax form (define it by a "
                              f"formula to export it)")

    return f


# -- sympy ------------------------------------------------------------------------
def _latex_method(name: str):
    def _latex(self, printer, exp=None):
        args = ", ".join(printer.doprint(a) for a in self.args)
        head = r"\operatorname{%s}" % name.replace("_", r"\_")
        if exp is not None:
            head += "^{%s}" % exp
        return head + r"{\left(%s \right)}" % args

    return _latex


def _named_function(name: str, arity: int, expansion: Callable[..., Any] | None, numeric: Callable[..., Any]):
    """A sympy Function class named ``name``: prints by name, ``\\operatorname{name}`` in LaTeX, numeric through
    ``numeric`` (lambdify), and, with ``expansion``, ``doit()`` / ``expand(func=True)`` / evalf / derivatives
    through the expansion."""
    import sympy

    attrs: dict[str, Any] = {"nargs": arity, "_latex": _latex_method(name), "_imp_": staticmethod(numeric),
                             "__module__": __name__}
    if expansion is not None:
        def doit(self, **hints):
            args = [a.doit(**hints) for a in self.args] if hints.get("deep", True) else list(self.args)
            return sympy.sympify(expansion(*args)).doit(**hints)

        def _eval_expand_func(self, **hints):
            return expansion(*self.args)

        def _eval_evalf(self, prec):
            from mpmath.libmp import prec_to_dps

            return sympy.sympify(expansion(*self.args)).doit().evalf(prec_to_dps(prec))

        def fdiff(self, argindex=1):
            dummies = [sympy.Dummy(real=True) for _ in range(arity)]
            d = sympy.sympify(expansion(*dummies)).diff(dummies[argindex - 1])
            return d.xreplace(dict(zip(dummies, self.args)))

        attrs.update(doit=doit, _eval_expand_func=_eval_expand_func, _eval_evalf=_eval_evalf, fdiff=fdiff)
    return type(name, (sympy.Function,), attrs)


def _formula_sympy(name: str, arity: int, parsed: Expression):
    """The sympy function class of a formula operator: named, its expansion the body (``parsed``, whose user
    operators stay named one level down)."""
    import sympy

    template = parsed.to_sympy(list(ARGUMENTS[:arity]))
    syms = [sympy.Symbol(n, real=True) for n in ARGUMENTS[:arity]]

    def expansion(*args):
        return template.xreplace(dict(zip(syms, args)))

    return _named_function(name, arity, expansion, _body_function(expand(parsed), arity))


def _function_sympy(name: str, arity: int, form, func):
    """A Python function's sympy form: the function class given, or a named class expanding to ``form(*args)``
    (none without ``form``)."""
    import sympy

    if isinstance(form, sympy.FunctionClass):
        return form
    if form is not None and not callable(form):
        raise ExpressionError(f"operator {name!r}: sympy must be a callable building its sympy form from the "
                              f"arguments' (lambda a: sympy.sinh(a)) or a sympy function class, got {form!r}")
    return _named_function(name, arity, form, func)


# ---------------------------------------------------------------------------
# inlining
# ---------------------------------------------------------------------------
def _inline_items(tokens: Sequence[str], operators: Mapping[str, ops.Operator]) -> list:
    """``tokens`` with every formula operator of ``operators`` replaced by its body: a prefix list whose leaves
    are tokens, ``int`` (the index of one of the expression's constants; an argument written twice in a body
    refers to the same constant) and ``float`` (a fixed number of a body)."""
    def node(tok: str, args: list) -> list:
        body = getattr(operators.get(tok), "body", None)
        if body is None:
            return [tok] + [item for a in args for item in a]
        out: list = []
        values = iter(body.constants)
        for t in body.tokens:
            if t == "x0":
                out.extend(args[0])
            elif t == "x1":
                out.extend(args[1])
            elif t == ops.CONST:
                out.append(float(next(values)))
            else:
                out.append(t)
        return out

    return fold(tokens, lambda tok, i: [i] if i >= 0 else [tok], node)


def inline(tokens: Sequence[str]) -> tuple | None:
    """The compiled kernels' form of ``tokens`` under the active user operators: the formula operators inlined
    (:func:`_inline_items`: ``int`` leaves are constants by index, ``float`` leaves fixed numbers); None when
    ``tokens`` use no formula operator (they compile as they are)."""
    ext = scope.extension()
    if ext is None or not any(getattr(ext.operators.get(t), "body", None) is not None for t in tokens):
        return None
    return tuple(_inline_items(tokens, ext.operators))


def expand(expr: Expression) -> Expression:
    """``expr`` with every formula operator (of its own user operators, else the active ones) written out (its body in its place;
    a body's numbers become constants, an argument written twice in a body is copied with its constants).

    >>> from symdescent.expr import parse
    >>> with OperatorSet({"softsign": "x / (1 + abs(x))"}).use():
    ...     expand(parse("softsign(2.5 * x0)")).to_infix()
    '2.5 * x0 / (1 + abs(2.5 * x0))'
    """
    ext = expr.operators if expr.operators is not None else scope.extension()
    if ext is None or not any(getattr(ext.operators.get(t), "body", None) is not None for t in expr.tokens):
        return expr
    with scope.extended(ext):
        items = _inline_items(expr.tokens, ext.operators)
        tokens = [ops.CONST if not isinstance(t, str) else t for t in items]
        consts = [float(t) if isinstance(t, float) else expr.constants[t] for t in items if not isinstance(t, str)]
        return Expression(tuple(tokens), tuple(consts))


# ---------------------------------------------------------------------------
# complexity
# ---------------------------------------------------------------------------
def check_complexity_table(table: Mapping[str, Any]) -> dict[str, int]:
    """A ``[complexity]`` table checked: operator names (the active table's) or :data:`LEAF_WEIGHTS`, each an
    integer >= 1.

    >>> check_complexity_table({"exp": 3, "constant": 2})
    {'exp': 3, 'constant': 2}
    >>> check_complexity_table({"expp": 3})
    Traceback (most recent call last):
    ...
    symdescent.errors.ExpressionError: unknown operator 'expp' in the complexity table; did you mean 'exp'?; known: ...
    """
    out = {}
    for name, value in table.items():
        if name not in ops.OPERATORS and name not in LEAF_WEIGHTS:
            known = list(ops.OPERATORS) + list(LEAF_WEIGHTS)
            raise ExpressionError(f"unknown operator {name!r} in the complexity table{did_you_mean(name, known)}; "
                                  f"known: {', '.join(known)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ExpressionError(f"the complexity of {name!r} must be an integer >= 1, got {value!r}")
        out[str(name)] = int(value)
    return out


def complexity_weights(table: Mapping[str, int] | None = None) -> dict[str, int]:
    """The weights that differ from 1: each operator's own (:attr:`~symdescent.expr.ops.Operator.complexity`,
    user operators' included, in the active table), then ``table``'s.  Empty: complexity is the node count."""
    out = {name: op.complexity for name, op in ops.OPERATORS.items() if op.complexity != 1}
    out.update(table or {})
    return {k: v for k, v in out.items() if v != 1}


def complexity(tokens: Sequence[str], weights: Mapping[str, int] | None = None) -> int:
    """The complexity of prefix ``tokens``: the sum of its nodes' weights (``weights`` by operator name,
    ``"variable"``, ``"constant"`` (a ``C`` or a literal); 1 for any other).  Without weights, the node count.

    >>> complexity(("mul", "C", "exp", "x0"), {"exp": 3, "constant": 2})
    7
    """
    if not weights:
        return len(tokens)
    var, const = weights.get("variable", 1), weights.get("constant", 1)
    total = 0
    for t in tokens:
        w = weights.get(t)
        if w is None:
            w = 1 if ops.arity(t) else (const if t == ops.CONST or t in ops.LITERALS else var)
        total += w
    return total


# ---------------------------------------------------------------------------
# nesting constraints
# ---------------------------------------------------------------------------
def check_nesting_table(table: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """A nesting table (``[constraints] nested``) checked: ``{outer: {inner: max}}`` or ``{outer: [inner, ...]}``
    (each at most 0 times), operator names of the active table, limits integers >= 0.

    >>> check_nesting_table({"sin": ["sin", "cos"], "exp": {"exp": 1}})
    {'sin': {'sin': 0, 'cos': 0}, 'exp': {'exp': 1}}
    """
    def known(name: str, where: str) -> str:
        if name not in ops.OPERATORS:
            raise ExpressionError(f"unknown operator {name!r} in {where}{did_you_mean(name, ops.OPERATORS)}; "
                                  f"known: {', '.join(ops.OPERATORS)}")
        return str(name)

    if not isinstance(table, Mapping):
        raise ExpressionError(f"the nesting constraints must be a table {{outer = {{inner = max}}}}, got "
                              f"{type(table).__name__}")
    out: dict[str, dict[str, int]] = {}
    for outer, inner in table.items():
        outer = known(outer, "the nesting constraints")
        if isinstance(inner, str):  # "sin, cos" (a bare word on the command line)
            inner = [name.strip() for name in inner.split(",")]
        if isinstance(inner, (list, tuple)):
            inner = {name: 0 for name in inner}
        if not isinstance(inner, Mapping):
            raise ExpressionError(f"nested.{outer} must be a table {{inner = max}} or a list of operators, got "
                                  f"{type(inner).__name__}")
        limits = {}
        for name, limit in inner.items():
            name = known(name, f"nested.{outer}")
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ExpressionError(f"nested.{outer}.{name} must be an integer >= 0 (how often {name} may appear "
                                      f"inside {outer}), got {limit!r}")
            limits[name] = limit
        out[outer] = limits
    return out


def nesting_violations(tokens: Sequence[str], nested: Mapping[str, Mapping[str, int]]) -> int:
    """How many nodes break ``nested``: an ``outer`` node below which some path holds ``inner`` more than
    ``nested[outer][inner]`` times (PySR's ``nested_constraints``).  0 without constraints.

    >>> from symdescent.expr import parse
    >>> nested = {"exp": {"exp": 1}}
    >>> [nesting_violations(parse(f).tokens, nested) for f in ("exp(exp(x0))", "exp(exp(x0) + exp(x0))",
    ...                                                          "exp(exp(exp(x0)))")]
    [0, 0, 1]
    """
    if not nested:
        return 0
    inners = {name for limits in nested.values() for name in limits}
    stack: list[dict | None] = []
    bad = 0
    for tok in reversed(tokens):
        arity = ops.arity(tok)
        if arity == 0:
            stack.append(None)
            continue
        below: dict[str, int] = {}
        for _ in range(arity):
            counts = stack.pop()
            if counts:
                for name, c in counts.items():
                    if c > below.get(name, 0):
                        below[name] = c
        limits = nested.get(tok)
        if limits:
            bad += sum(1 for name, limit in limits.items() if below.get(name, 0) > limit)
        if tok in inners:
            below[tok] = below.get(tok, 0) + 1
        stack.append(below or None)
    return bad


__all__ = ["ARGUMENTS", "Definition", "OperatorSet", "UserOperator", "as_definition", "as_definitions",
           "check_complexity_table", "check_name", "check_nesting_table", "complexity", "complexity_weights",
           "define", "derived_rule", "expand", "inline", "nesting_violations", "saved_operators"]
