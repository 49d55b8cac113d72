"""Methods under test: symdescent with any config, and peers behind small adapters.

Every method gets the same training data, the same wall-clock budget and one
thread, and returns a :class:`FittedModel`: the model as a sympy expression
over the variable names (built programmatically from the peer's own tree,
never by parsing its text) and its own ``predict``.

Method specs, as given to ``--methods``:

``symdescent``
    The default configuration.
``symdescent:NAME``
    ``examples/configs/NAME.toml`` (e.g. ``symdescent:descent``, ``symdescent:lee``).
``symdescent:PATH``
    A TOML config file.
``symdescent+units``, ``symdescent:NAME+units``
    The same, searching with each problem's units (the suite's units file,
    see :mod:`symdescent.bench.problems`) as ``X_units`` and ``y_units``;
    ``search.dimensional`` of the config says how (default: a penalty).
    Beside the plain spec (``--methods symdescent,symdescent+units``) it
    gives the comparison with and without units on the same data and seeds.
    A problem without units is an error row.
``pyoperon``
    Operon's scikit-learn ``SymbolicRegressor``, stopped by ``max_time``.
``gplearn``
    gplearn's ``SymbolicRegressor``, grown by warm-started generations until
    the budget is spent.
``pysr``
    PySR, only where the ``symdescent_pysr`` plugin reports Julia available;
    elsewhere the runs are reported as unavailable with the plugin's reason.
``linear``, ``gbr``
    Reference rows without a formula (R² only, no complexity): scikit-learn's
    ``LinearRegression`` and ``GradientBoostingRegressor`` with its defaults.
    They finish far inside the budget; the budget is an upper bound, not a
    target.

Examples
--------
>>> [m.label for m in resolve_methods("symdescent,pyoperon,symdescent+units")]
['symdescent', 'pyoperon', 'symdescent+units']
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from symdescent.errors import ConfigError, did_you_mean

OPERON_SYMBOLS = "add,sub,mul,div,constant,variable,exp,log,sin,cos,sqrt,square"
GPLEARN_FUNCTIONS = ("add", "sub", "mul", "div", "sqrt", "log", "neg", "inv", "sin", "cos")
PYSR_UNARY = ("exp", "log", "sin", "cos", "sqrt", "square")


@dataclass(frozen=True, eq=False)
class FittedModel:
    """What a method returns: the model as sympy, and the method's own predictor.

    ``expression`` is None for a method without a formula (``linear``,
    ``gbr``): its rows have test R² but no complexity and no symbolic check.
    """

    expression: Any
    predict: Callable[[np.ndarray], np.ndarray]
    info: dict = field(default_factory=dict)


class Method(ABC):
    """A method under test.  Subclasses are frozen dataclasses (they travel to Dask workers)."""

    label: str

    def unavailable_reason(self) -> str | None:
        """None when the method can run here, otherwise why not."""
        return None

    def warm_up(self) -> None:
        """Import what ``fit`` needs, so that the timed fit does not pay for imports."""

    def for_problem(self, problem) -> "Method":
        """The method as it runs on ``problem`` (the runner asks before each fit): itself, or a copy that
        holds what it reads of the problem beside the data (``symdescent+units``: the units)."""
        return self

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray, names: tuple[str, ...], budget: float, seed: int) -> FittedModel:
        """Fit on ``(X, y)`` within ``budget`` seconds, single-threaded, seeded."""


def _symbols(names):
    import sympy

    return [sympy.Symbol(n, positive=True) for n in names]


# -- symdescent ---------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class SymdescentMethod(Method):
    """symdescent's estimator with a configuration (None: the defaults); with ``units``, searching with
    each problem's units (:meth:`for_problem` takes them, in the order of its variables)."""

    label: str = "symdescent"
    config: Any = None
    units: bool = False
    X_units: tuple[str, ...] | None = None
    y_units: str | None = None

    def for_problem(self, problem):
        if not self.units:
            return self
        table = getattr(problem, "units", None)
        if not table:
            from symdescent.errors import DataError

            raise DataError(f"{self.label}: problem {problem.id} has no units (its suite has no units file)")
        return replace(self, X_units=tuple(table[n] for n in problem.names), y_units=table[problem.output])

    def warm_up(self):
        import sympy  # noqa: F401  (the search's final simplification)

        import symdescent.estimator  # noqa: F401
        from symdescent.registry import Registry

        Registry.discover()

    def fit(self, X, y, names, budget, seed):
        from symdescent.bench.metrics import to_positive
        from symdescent.estimator import SymbolicRegressor
        from symdescent.search import resolve_config

        units = {} if self.X_units is None else {"X_units": list(self.X_units), "y_units": self.y_units}
        # the bench runs one problem per worker process at once: one process per fit, unless the config asks
        n_jobs = 1 if resolve_config(self.config).search.workers is None else None
        est = SymbolicRegressor(config=self.config, time_budget=budget, random_state=seed, n_jobs=n_jobs, **units)
        est.fit(X, y, variable_names=list(names))
        return FittedModel(to_positive(est.sympy()), est.predict, {"iterations": est.result_.iterations})


def config_search_paths() -> list[Path]:
    """Folders searched for named configs: ``examples/configs`` of the source tree and of the cwd."""
    here = Path(__file__).resolve().parents[2] / "examples" / "configs"
    return list(dict.fromkeys([here, Path.cwd() / "examples" / "configs"]))


def find_config(name: str) -> Path:
    """Resolve ``NAME`` or a path to a TOML config file."""
    path = Path(name)
    if path.suffix == ".toml" or len(path.parts) > 1:
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    known = []
    for folder in config_search_paths():
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
        known += [p.stem for p in folder.glob("*.toml")] if folder.is_dir() else []
    where = ", ".join(str(p) for p in config_search_paths())
    raise ConfigError(f"no config named {name!r}{did_you_mean(name, known)} (looked in {where}); "
                      f"named configs: {', '.join(sorted(set(known))) or 'none'}; or give a path to a .toml file")


# -- pyoperon -----------------------------------------------------------------

def operon_to_sympy(tree, variables: dict, names) -> Any:
    """Build a sympy expression from an Operon tree (postfix nodes), over ``names``.

    Parameters
    ----------
    tree : pyoperon Tree
    variables : dict
        The estimator's ``variables_``: variable hash -> ``"X1"``, ``"X2"``, ...
        (column 1, 2, ...).
    names : sequence of str
    """
    import sympy

    syms = _symbols(names)
    column = {h: syms[int(str(label)[1:]) - 1] for h, label in variables.items()}
    unary = {"Exp": sympy.exp, "Log": sympy.log, "Sin": sympy.sin, "Cos": sympy.cos, "Tan": sympy.tan,
             "Tanh": sympy.tanh, "Sqrt": sympy.sqrt, "Abs": sympy.Abs, "Asin": sympy.asin,
             "Acos": sympy.acos, "Atan": sympy.atan, "Sinh": sympy.sinh, "Cosh": sympy.cosh,
             "Square": lambda a: a**2, "Cbrt": sympy.cbrt, "Logabs": lambda a: sympy.log(sympy.Abs(a)),
             "Sqrtabs": lambda a: sympy.sqrt(sympy.Abs(a))}
    nodes = list(tree.Nodes)
    built: list = [None] * len(nodes)
    for i, node in enumerate(nodes):
        kind = str(node.Type).rsplit(".", 1)[-1]
        if kind == "Constant":
            built[i] = sympy.Float(float(node.Value))
            continue
        if kind == "Variable":
            built[i] = sympy.Float(float(node.Value)) * column[node.HashValue]
            continue
        args, j = [], i - 1  # children: i-1 is the first, each next one precedes the previous subtree
        for _ in range(node.Arity):
            args.append(built[j])
            j -= nodes[j].Length + 1
        if kind == "Add":
            built[i] = sympy.Add(*args)
        elif kind == "Mul":
            built[i] = sympy.Mul(*args)
        elif kind == "Sub":
            built[i] = -args[0] if len(args) == 1 else args[0] - sympy.Add(*args[1:])
        elif kind == "Div":
            built[i] = 1 / args[0] if len(args) == 1 else args[0] / sympy.Mul(*args[1:])
        elif kind == "Pow":
            built[i] = args[0] ** args[1]
        elif kind == "Aq":
            built[i] = args[0] / sympy.sqrt(1 + args[1] ** 2)
        elif kind in unary and len(args) == 1:
            built[i] = unary[kind](args[0])
        else:
            raise ValueError(f"Operon node type {kind} has no sympy translation")
    return built[-1]


@dataclass(frozen=True, eq=False)
class OperonMethod(Method):
    """pyoperon's scikit-learn ``SymbolicRegressor``, stopped by ``max_time``."""

    label: str = "pyoperon"
    allowed_symbols: str = OPERON_SYMBOLS

    def unavailable_reason(self):
        try:
            import pyoperon.sklearn  # noqa: F401
        except ImportError as exc:
            return f"pyoperon is not installed ({exc}); pip install 'symdescent[bench]'"
        return None

    def warm_up(self):
        import pyoperon.sklearn  # noqa: F401

    def fit(self, X, y, names, budget, seed):
        from pyoperon.sklearn import SymbolicRegressor

        # Time is the only stopping rule, so every method gets the same budget.
        est = SymbolicRegressor(allowed_symbols=self.allowed_symbols, n_threads=1, random_state=seed,
                                max_time=max(1, int(math.floor(budget))), generations=10**9,
                                max_evaluations=10**15)
        est.fit(X, y)
        return FittedModel(operon_to_sympy(est.model_, est.variables_, names), est.predict)


# -- gplearn ------------------------------------------------------------------

def gplearn_to_sympy(program, names) -> Any:
    """Build a sympy expression from a gplearn program (prefix list), over ``names``.

    gplearn's protected operators are written as their unprotected meaning:
    ``div`` as division, ``inv`` as 1/x, ``sqrt`` as ``sqrt(|x|)`` and
    ``log`` as ``log(|x|)`` (the protection only acts near zero).
    """
    import sympy

    syms = _symbols(names)
    funcs = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
             "div": lambda a, b: a / b, "sqrt": lambda a: sympy.sqrt(sympy.Abs(a)),
             "log": lambda a: sympy.log(sympy.Abs(a)), "neg": lambda a: -a, "inv": lambda a: 1 / a,
             "abs": sympy.Abs, "max": sympy.Max, "min": sympy.Min, "sin": sympy.sin, "cos": sympy.cos,
             "tan": sympy.tan}
    stack: list[list] = []
    for node in program:
        if hasattr(node, "arity"):
            if node.name not in funcs:
                raise ValueError(f"gplearn function {node.name} has no sympy translation")
            stack.append([node])
            continue
        leaf = syms[node] if isinstance(node, (int, np.integer)) else sympy.Float(float(node))
        stack[-1].append(leaf) if stack else stack.append([leaf])
        while stack and hasattr(stack[-1][0], "arity") and len(stack[-1]) == stack[-1][0].arity + 1:
            fn, *args = stack.pop()
            value = funcs[fn.name](*args)
            if not stack:
                return value
            stack[-1].append(value)
    return stack[0][0]


@dataclass(frozen=True, eq=False)
class GplearnMethod(Method):
    """gplearn's ``SymbolicRegressor``, one warm-started generation at a time until the budget is spent."""

    label: str = "gplearn"
    population_size: int = 1000

    def unavailable_reason(self):
        try:
            import gplearn.genetic  # noqa: F401
        except ImportError as exc:
            return f"gplearn is not installed ({exc}); pip install 'symdescent[bench]'"
        return None

    def warm_up(self):
        import gplearn.genetic  # noqa: F401

    def fit(self, X, y, names, budget, seed):
        from gplearn.genetic import SymbolicRegressor

        est = SymbolicRegressor(population_size=self.population_size, generations=1, function_set=GPLEARN_FUNCTIONS,
                                n_jobs=1, random_state=seed, warm_start=True)
        start = time.monotonic()
        est.fit(X, y)
        last = time.monotonic() - start
        while time.monotonic() - start + last <= budget:
            t0 = time.monotonic()
            est.set_params(generations=est.generations + 1)
            est.fit(X, y)
            last = time.monotonic() - t0
        return FittedModel(gplearn_to_sympy(est._program.program, names), est.predict,
                           {"generations": est.generations})


# -- PySR ---------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class PysrMethod(Method):
    """PySR itself, run only where the ``symdescent_pysr`` plugin reports Julia available."""

    label: str = "pysr"

    def unavailable_reason(self):
        from symdescent.errors import PluginError
        from symdescent.registry import Registry

        try:
            info = Registry.discover().get("pysr")
        except PluginError as exc:
            return f"the symdescent_pysr plugin is not installed or failed to load ({exc})"
        return info.unavailable_reason()

    def warm_up(self):
        import pysr  # noqa: F401

    def fit(self, X, y, names, budget, seed):
        from pysr import PySRRegressor

        from symdescent.bench.metrics import to_positive

        est = PySRRegressor(niterations=10**6, timeout_in_seconds=budget, binary_operators=["+", "-", "*", "/"],
                            unary_operators=list(PYSR_UNARY), parallelism="serial", deterministic=True,
                            random_state=seed, progress=False, verbosity=0, temp_equation_file=True)
        est.fit(X, y, variable_names=list(names))
        return FittedModel(to_positive(est.sympy()), est.predict)


# -- reference regressors without a formula -------------------------------------

@dataclass(frozen=True, eq=False)
class LinearMethod(Method):
    """scikit-learn's ordinary least squares ``LinearRegression``: the floor a formula should beat.

    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> fitted = LinearMethod().fit(X, 3 * X[:, 0] + 1, ("a", "b"), budget=1.0, seed=0)
    >>> fitted.expression is None, bool(np.allclose(fitted.predict(X), 3 * X[:, 0] + 1))
    (True, True)
    """

    label: str = "linear"

    def warm_up(self):
        import sklearn.linear_model  # noqa: F401

    def fit(self, X, y, names, budget, seed):
        from sklearn.linear_model import LinearRegression

        est = LinearRegression().fit(X, y)
        return FittedModel(None, est.predict)


@dataclass(frozen=True, eq=False)
class GradientBoostingMethod(Method):
    """scikit-learn's ``GradientBoostingRegressor`` with its defaults (100 trees of depth 3), seeded.

    The classic implementation rather than ``HistGradientBoostingRegressor``:
    the histogram one needs 20 rows per leaf by default and predicts a
    constant on the smallest tables (16-25 rows) of the black-box suite.
    """

    label: str = "gbr"

    def warm_up(self):
        import sklearn.ensemble  # noqa: F401

    def fit(self, X, y, names, budget, seed):
        from sklearn.ensemble import GradientBoostingRegressor

        est = GradientBoostingRegressor(random_state=seed).fit(X, y)
        return FittedModel(None, est.predict)


# -- specs --------------------------------------------------------------------

#: the ending of a symdescent spec that searches with the problems' units
UNITS_SUFFIX = "+units"

PEERS: dict[str, type[Method]] = {"pyoperon": OperonMethod, "gplearn": GplearnMethod, "pysr": PysrMethod,
                                  "linear": LinearMethod, "gbr": GradientBoostingMethod}
ALIASES = {"operon": "pyoperon", "gradient_boosting": "gbr"}


def resolve_method(spec: str) -> Method:
    """Turn a ``--methods`` item into a :class:`Method` (configs are read and validated here)."""
    from symdescent.config import load_config

    spec = spec.strip()
    units = spec.endswith(UNITS_SUFFIX) and spec.startswith("symdescent")
    name, sep, arg = spec.removesuffix(UNITS_SUFFIX if units else "").partition(":")
    if name == "symdescent":
        if not sep:
            return SymdescentMethod(label=spec, units=units)
        if not arg:
            raise ConfigError("symdescent: give a config name or path after the colon, e.g. symdescent:descent")
        return SymdescentMethod(label=spec, config=load_config(find_config(arg)), units=units)
    name = ALIASES.get(name, name)
    if name not in PEERS:
        known = ["symdescent", *PEERS]
        raise ConfigError(f"unknown method {spec!r}{did_you_mean(name, known)}; methods: {', '.join(known)}, "
                          "symdescent:NAME or symdescent:PATH.toml (each also with +units)")
    if sep:
        raise ConfigError(f"method {name!r} takes no options (got {spec!r})")
    return PEERS[name]()


def resolve_methods(specs: str) -> list[Method]:
    """Resolve a comma-separated ``--methods`` value; duplicates are errors."""
    methods = [resolve_method(s) for s in specs.split(",") if s.strip()]
    if not methods:
        raise ConfigError("--methods is empty")
    labels = [m.label for m in methods]
    dup = {x for x in labels if labels.count(x) > 1}
    if dup:
        raise ConfigError(f"method(s) given twice: {', '.join(sorted(dup))}")
    return methods
