"""Configuration: TOML files validated once into frozen dataclasses.

A config file has these parts::

    [search]                  # budget and limits (SearchConfig)
    time_budget = 30
    [strategy]                # which plugins play which role (StrategyConfig)
    proposers = ["random", "linear"]
    refiners = ["descent"]
    scorer = "mdl"
    [plugins.descent]         # each plugin's own section, validated by the plugin
    population_size = 200
    [units]                   # optional: each column's unit, by name, the target's too (see symdescent.units)
    distance = "m"
    [operators]               # optional: user operators, each a formula over x (and y), usable in search.operators
    softsign = "x / (1 + abs(x))"
    [complexity]              # optional: the complexity of one node of an operator (a variable, a constant); 1
    exp = 3
    [constraints.nested]      # optional: how often an operator may appear inside another (a list: never)
    sin = ["sin", "cos"]
    exp = { exp = 1 }

Unknown sections, keys and plugin names are errors with a did-you-mean; values
of the wrong type are errors naming the key and the expected type.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import sys
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from symdescent.errors import ConfigError, ExpressionError, did_you_mean
from symdescent.expr import ops

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_OPERATORS = ("add", "sub", "mul", "div", "neg", "sqrt", "exp", "log", "sin", "cos", "square", "cube", "pow")


@dataclass(frozen=True)
class SearchConfig:
    """Budget and limits of one search.

    Attributes
    ----------
    time_budget : float or None
        Wall-clock seconds (None or ``inf``: no time limit; then ``max_iterations``
        must be set, and ``inf`` is stored as None).
    max_iterations : int or None
        Iterations of the descent loop (None: no limit).
    seed : int
        Seed of every random generator in the search.
    max_complexity : int
        Largest node count a candidate may have.
    operators : list of str
        Operators the search may use.
    fit_rows : int
        Rows used to fit inner constants (a seeded subsample when the data is
        larger); losses are computed on the scoring rows.
    score_rows : int or None
        Rows on which losses are computed during the search and for the final
        model: a seeded subsample of at most this many rows when the data is
        larger (None: every row).  It keeps one evaluation's cost bounded on
        large data (a 1,000,000-row table costs what a 10,000-row one does).
        The final front is polished on these rows and then re-scored on every
        row, so the chosen model and every figure of the result (loss, R², the
        scorer's value) refer to all the data.
    iteration_seconds : float or None
        Time slice of one iteration, finite (None: a tenth of the budget, 0.5 to 10 s).
    simplify : bool
        Simplify the final front with sympy.
    workers : int, "auto" or None
        Worker processes of one search (see :mod:`symdescent.islands`): 1 runs the single-process loop
        (no Dask, not even imported); N > 1 runs N islands on a Dask ``LocalCluster`` of N single-threaded
        worker processes; 0 or ``"auto"`` means one per core this process may use (1 on one core, and in a
        daemonic process, such as a Dask worker's, which may not start processes of its own).  None, the
        default (the setting left out), is the environment variable ``SYMDESCENT_WORKERS`` where it is set
        (the same values; for containers, CI, notebooks that want one process), else ``"auto"``.
        A seeded search with an iteration budget is reproducible for a given number of workers; since the
        default follows the machine's cores, set ``workers`` to reproduce a search on another machine.
    scheduler : str or None
        Address of an existing Dask scheduler (``"tcp://host:8786"``) to run the islands on: ``workers``
        islands when it is an integer above 1, else one per worker process of the cluster.
    migration_every : int
        Iterations each island runs between two migrations (a round).
    migration_size : int
        Candidates each island receives per migration: the best of the other islands' fronts (0: none).
    restart_islands : bool
        Restart a lost island (its worker died) on a worker that holds none, when one is there at the end of a
        round (a local cluster replaces a killed worker), with a new seed and the global front as newcomers.
    dimensional : str
        What the search does with a formula whose units do not agree, when units are declared (the
        ``[units]`` table; without units nothing changes): ``"penalty"`` raises its loss per violation
        (see :func:`symdescent.expr.units.check_dimensions` for what counts), before any scorer sees
        it, so that the scorer, the search's rankings and the Pareto front all weigh it; ``"strict"``
        makes it invalid (checked before its constants are fitted where it can be, so it costs no
        fit); ``"off"`` ignores the units.
    dimensional_penalty : float
        What one violation adds to the loss, as a fraction of the variance of ``y`` (its R² falls by
        as much; the loss and R² shown are the penalised ones): 1.0, the default, scores an
        inconsistent formula as no better than ``y``'s mean, so it is chosen only where nothing
        consistent beats the mean, while it may still breed in the population; smaller values let a
        much better fit outweigh a violation.
    dimensionless_constants : bool
        False (default): a fitted constant may carry any unit (as PySR's
        ``dimensionless_constants_only=False``), so ``C * x`` has any dimension; True: constants are
        dimensionless, and the formula without its constants must have the target's dimension.
    selection : str
        How the final model is picked from the front: ``"score"`` (default), the member with the best
        scorer value; ``"cv"``, the simplest member whose K-fold cross-validated error (constants refitted
        on each training fold) is within one standard error of the lowest
        (:func:`symdescent.selection.cross_validated_choice`), a rule that does not reward fitting the
        noise of a few hundred rows; ``"cv-min"``, the member with the lowest cross-validated error.
    """

    time_budget: float | None = 30.0
    max_iterations: int | None = None
    seed: int = 0
    max_complexity: int = 30
    operators: tuple[str, ...] = DEFAULT_OPERATORS
    fit_rows: int = 256
    score_rows: int | None = 10_000
    iteration_seconds: float | None = None
    simplify: bool = True
    workers: int | str | None = None
    scheduler: str | None = None
    migration_every: int = 2
    migration_size: int = 3
    restart_islands: bool = True
    dimensional: str = "penalty"
    dimensional_penalty: float = 1.0
    dimensionless_constants: bool = False
    selection: str = "score"

    def validate(self) -> "SearchConfig":
        if self.time_budget == math.inf:  # no time limit: the same as None, so only an iteration limit can end it
            return replace(self, time_budget=None).validate()
        if self.time_budget is None and self.max_iterations is None:
            raise ConfigError("search: set time_budget or max_iterations (both are unlimited; "
                              "a time_budget of inf is no limit)")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ConfigError(f"search.time_budget must be > 0 seconds, got {self.time_budget}")
        if self.max_iterations is not None and self.max_iterations < 1:
            raise ConfigError(f"search.max_iterations must be >= 1, got {self.max_iterations}")
        if self.max_complexity < 1:
            raise ConfigError(f"search.max_complexity must be >= 1, got {self.max_complexity}")
        if self.fit_rows < 2:
            raise ConfigError(f"search.fit_rows must be >= 2, got {self.fit_rows}")
        if self.score_rows is not None and self.score_rows < self.fit_rows:
            raise ConfigError(f"search.score_rows must be None or >= search.fit_rows ({self.fit_rows}), "
                              f"got {self.score_rows}")
        if self.iteration_seconds is not None and not 0 < self.iteration_seconds < math.inf:
            raise ConfigError(f"search.iteration_seconds must be a finite number > 0 (leave it unset for a tenth "
                              f"of the budget), got {self.iteration_seconds}")
        if not self.operators:
            raise ConfigError('search.operators is empty: name at least one operator, e.g. ["add", "mul"]')
        try:
            ops.validate_operator_names(self.operators, what="operator in search.operators")
        except ExpressionError as exc:
            raise ConfigError(str(exc)) from None
        if self.workers is None:
            environment_workers()  # a bad SYMDESCENT_WORKERS is an error now, naming it, not at the run
        elif self.workers != "auto" and not (isinstance(self.workers, int) and self.workers >= 0):
            raise ConfigError(f'search.workers must be an integer >= 0 or "auto" (0 and "auto": one per core), '
                              f"got {self.workers!r}")
        if self.scheduler is not None:
            check_scheduler_address(self.scheduler)
        if self.migration_every < 1:
            raise ConfigError(f"search.migration_every must be >= 1 iteration, got {self.migration_every}")
        if self.migration_size < 0:
            raise ConfigError(f"search.migration_size must be >= 0, got {self.migration_size}")
        if self.selection not in SELECTION_RULES:
            raise ConfigError(f"search.selection must be one of {', '.join(map(repr, SELECTION_RULES))}, got "
                              f"{self.selection!r}{did_you_mean(self.selection, SELECTION_RULES)}")
        if self.dimensional not in DIMENSIONAL_MODES:
            raise ConfigError(f"search.dimensional must be one of {', '.join(map(repr, DIMENSIONAL_MODES))}, got "
                              f"{self.dimensional!r}{did_you_mean(self.dimensional, DIMENSIONAL_MODES)}")
        if not 0 < self.dimensional_penalty < math.inf:
            raise ConfigError(f"search.dimensional_penalty must be a finite number > 0, got "
                              f"{self.dimensional_penalty}")
        return self


#: what ``search.selection`` may be: how the final model is picked from the front
SELECTION_RULES = ("score", "cv", "cv-min")

#: what ``search.dimensional`` may be: what a dimensionally inconsistent formula gets, when units are declared
DIMENSIONAL_MODES = ("penalty", "strict", "off")


#: the environment variable that sets ``search.workers`` where the configuration leaves it out
WORKERS_ENV = "SYMDESCENT_WORKERS"


def environment_workers() -> int | str:
    """``search.workers`` where the configuration leaves it out: ``$SYMDESCENT_WORKERS``, else ``"auto"``.

    The one place the environment is read for it; empty or unset is ``"auto"``.

    Raises
    ------
    ConfigError
        Naming the variable, when it is neither an integer >= 0 nor ``auto``.

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict("os.environ", {"SYMDESCENT_WORKERS": "4"}):
    ...     environment_workers()
    4
    >>> with mock.patch.dict("os.environ", {"SYMDESCENT_WORKERS": "all"}):
    ...     environment_workers()
    Traceback (most recent call last):
    ...
    symdescent.errors.ConfigError: the environment variable SYMDESCENT_WORKERS='all' must be an integer >= 0 or auto ...
    """
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text or text == "auto":
        return "auto"
    if text.isascii() and text.isdigit():
        return int(text)
    raise ConfigError(f"the environment variable {WORKERS_ENV}={text!r} must be an integer >= 0 or auto (the "
                      f"default of search.workers: 1 is one process, 0 and auto one per core); set it so or unset it")


#: the transports a Dask scheduler address may name (``distributed.comm`` registers these)
SCHEDULER_PROTOCOLS = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def check_scheduler_address(address: str) -> str:
    """Check the form of a Dask scheduler address, ``[protocol://]host[:port]``, without contacting it.

    Examples
    --------
    >>> check_scheduler_address("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    >>> check_scheduler_address("http://host:8786")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symdescent.errors.ConfigError: search.scheduler: unknown protocol 'http' in 'http://host:8786' ...
    """
    form = "a Dask scheduler address looks like tcp://host:8786"
    protocol, sep, rest = address.strip().rpartition("://")
    if address != address.strip() or not address:
        raise ConfigError(f"search.scheduler: {address!r} is not an address ({form})")
    if sep and protocol not in SCHEDULER_PROTOCOLS:
        raise ConfigError(f"search.scheduler: unknown protocol {protocol!r} in {address!r} ({form}; protocols: "
                          f"{', '.join(SCHEDULER_PROTOCOLS)})")
    host, colon, port = rest.rpartition(":") if not rest.endswith("]") else (rest, "", "")
    if not colon:
        host = rest
    if not host or any(c.isspace() or c in "/?#@" for c in host) or "://" in rest:
        raise ConfigError(f"search.scheduler: no host in {address!r} ({form})")
    if colon and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"search.scheduler: the port in {address!r} must be a number from 1 to 65535 ({form})")
    return address


@dataclass(frozen=True)
class StrategyConfig:
    """Which plugins take part, by name."""

    proposers: tuple[str, ...] = ("random", "linear")
    refiners: tuple[str, ...] = ("descent",)
    scorer: str = "mdl"


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration."""

    search: SearchConfig = field(default_factory=SearchConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    plugins: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: ``[units]``: a unit string per column name, the target's under its name (empty: no units)
    units: Mapping[str, str] = field(default_factory=dict)
    #: ``[operators]``: the user operators by name (see :mod:`symdescent.expr.custom`): a formula string (in a
    #: file), from Python also a :func:`~symdescent.expr.custom.define` or a numpy function's definition
    operators: Mapping[str, Any] = field(default_factory=dict)
    #: ``[complexity]``: the complexity of one node, by operator name, ``variable`` or ``constant`` (default 1)
    complexity: Mapping[str, int] = field(default_factory=dict)
    #: ``[constraints]``: ``nested = {outer: {inner: max}}``, how often an operator may appear inside another
    constraints: Mapping[str, Any] = field(default_factory=dict)

    def plugin_section(self, name: str) -> Mapping[str, Any]:
        return self.plugins.get(name, {})

    def operator_set(self):
        """The user operators of ``[operators]`` as an :class:`~symdescent.expr.custom.OperatorSet` (built once)."""
        cached = self.__dict__.get("_operator_set")
        if cached is None:
            cached = operator_set(self.operators, "[operators]")
            object.__setattr__(self, "_operator_set", cached)
        return cached

    @property
    def nested(self) -> dict[str, dict[str, int]]:
        """The nesting limits of ``[constraints]`` (empty: none)."""
        return dict(self.constraints.get("nested", {}))

    def to_dict(self) -> dict:
        out = {
            "search": dataclasses.asdict(self.search),
            "strategy": dataclasses.asdict(self.strategy),
            "plugins": {k: dict(v) for k, v in self.plugins.items()},
        }
        if self.units:
            out["units"] = dict(self.units)
        if self.operators:
            formulas = self.operator_set().formulas()
            out["operators"] = {name: formulas.get(name, "<a Python function>") for name in self.operators}
        if self.complexity:
            out["complexity"] = dict(self.complexity)
        if self.constraints:
            out["constraints"] = {k: {o: dict(v) for o, v in table.items()} for k, table in self.constraints.items()}
        return out

    def without_units(self, names) -> "Config":
        """A copy whose ``[units]`` leaves out ``names`` (one output's search, without the other targets')."""
        drop = set(names) & set(self.units)
        if not drop:
            return self
        return replace(self, units={k: v for k, v in self.units.items() if k not in drop})

    def with_overrides(self, search: Mapping[str, Any] | None = None, strategy: Mapping[str, Any] | None = None,
                       plugins: Mapping[str, Mapping[str, Any]] | None = None,
                       units: Mapping[str, str] | None = None, operators: Mapping[str, Any] | None = None,
                       complexity: Mapping[str, Any] | None = None,
                       constraints: Mapping[str, Any] | None = None) -> "Config":
        """Return a copy with settings replaced (unknown keys are errors); ``units``, ``operators``,
        ``complexity`` and ``constraints`` add to (or replace entries of) their tables."""
        if operators or complexity or constraints:
            ops_table = {**self.operators, **(operators or {})}
            opset = operator_set(ops_table, "[operators]")
            with opset.use():
                cx = {**self.complexity, **check_complexity(complexity or {}, "[complexity]")}
                cs = {**self.constraints, **check_constraints(constraints or {}, "[constraints]")}
            base = Config(self.search, self.strategy, self.plugins, self.units, ops_table, cx, cs)
            object.__setattr__(base, "_operator_set", opset)
            return base.with_overrides(search=search, strategy=strategy, plugins=plugins, units=units)
        s = self.search
        if search:
            with self.operator_set().use():
                s = build_dataclass(SearchConfig, {**dataclasses.asdict(s), **search}, "search").validate()
        st = self.strategy
        if strategy:
            st = build_dataclass(StrategyConfig, {**dataclasses.asdict(st), **strategy}, "strategy")
        pl = dict(self.plugins)
        for name, section in (plugins or {}).items():
            if not isinstance(section, Mapping):
                raise ConfigError(f"plugins.{name} must be a table of settings, got {type(section).__name__}")
            pl[name] = {**pl.get(name, {}), **section}
        un = {**self.units, **check_units_table(units, "units")} if units else self.units
        out = Config(s, st, pl, un, self.operators, self.complexity, self.constraints)
        if "_operator_set" in self.__dict__:
            object.__setattr__(out, "_operator_set", self.__dict__["_operator_set"])
        return out


# -- typed construction ------------------------------------------------------

def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


class CommandLineWord(str):
    """A bare word typed as ``--set KEY=WORD`` (not TOML): a list-valued setting reads it as comma-separated items.

    So ``--set search.operators=add,mul`` means ``["add", "mul"]``, while a
    string from a TOML file (or a quoted ``--set KEY='"a,b"'``) is never split.
    Each item is read as a TOML value where it is one (``1,2`` gives integers),
    else taken as a string.
    """

    def items(self) -> list:
        out = []
        for part in self.split(","):
            part = part.strip()
            if not part:
                raise ConfigError(f"empty item in the comma-separated list {str(self)!r}")
            try:
                out.append(loads_toml(f"v = {part}", "--set")["v"])
            except tomllib.TOMLDecodeError:
                out.append(part)
        return out


def coerce(value: Any, tp, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; convert lists to tuples.

    A :class:`CommandLineWord` given for a list is split at its commas.
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is tuple:
        if isinstance(value, CommandLineWord):
            value = value.items()
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            hint = ' (a list: ["a", "b"]; on the command line also --set KEY=a,b)' if isinstance(value, str) else ""
            raise ConfigError(f"{where}: expected a list{hint}, got {type(value).__name__} {value!r}")
        item = args[0] if args else Any
        return tuple(coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or tp in (dict,):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)  # a plain str, also for a CommandLineWord
    return value


def build_dataclass(cls, data: Mapping[str, Any], section: str):
    """Build the frozen dataclass ``cls`` from ``data``, checking names and types."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"[{section}] must be a table of settings, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"unknown key {key!r} in [{section}]{did_you_mean(key, known)}; known keys: {', '.join(sorted(known))}"
            )
        kwargs[key] = coerce(value, hints[key], f"{section}.{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"[{section}]: {exc}") from None


def config_from_dict(data: Mapping[str, Any], source: str = "config") -> Config:
    """Validate a parsed config mapping (as from TOML) into a :class:`Config`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a table at the top level")
    sections = ("search", "strategy", "plugins", "units", "operators", "complexity", "constraints")
    for key in data:
        if key not in sections:
            raise ConfigError(f"{source}: unknown section [{key}]{did_you_mean(key, sections)}; sections: "
                              f"{', '.join(sections)}")
    operators = data.get("operators", {})
    if not isinstance(operators, Mapping):
        raise ConfigError(f"{source}: [operators] must be a table of formulas by name, e.g. softsign = "
                          f"\"x / (1 + abs(x))\"; got {type(operators).__name__}")
    opset = operator_set(operators, f"{source}: [operators]")
    with opset.use():
        search = build_dataclass(SearchConfig, data.get("search", {}), "search").validate()
        complexity = check_complexity(data.get("complexity", {}), f"{source}: [complexity]")
        constraints = check_constraints(data.get("constraints", {}), f"{source}: [constraints]")
    strategy = build_dataclass(StrategyConfig, data.get("strategy", {}), "strategy")
    plugins = data.get("plugins", {})
    if not isinstance(plugins, Mapping):
        raise ConfigError(f"{source}: [plugins] must hold one table per plugin")
    for name, section in plugins.items():
        if not isinstance(section, Mapping):
            raise ConfigError(f"{source}: plugins.{name} must be a table, got {type(section).__name__}")
    units = check_units_table(data.get("units", {}), f"{source}: [units]")
    cfg = Config(search, strategy, {k: dict(v) for k, v in plugins.items()}, units, dict(operators), complexity,
                 constraints)
    object.__setattr__(cfg, "_operator_set", opset)
    return cfg


def operator_set(operators: Mapping[str, Any], where: str):
    """``[operators]`` as an :class:`~symdescent.expr.custom.OperatorSet`; a :class:`ConfigError` naming
    ``where`` for a bad definition (a name that shadows a built-in, a formula that does not parse, a cycle).

    >>> operator_set({"softsign": "x / (1 + abs(x))"}, "[operators]")
    OperatorSet(softsign)
    >>> operator_set({"sine": "sinn(x)"}, "[operators]")
    Traceback (most recent call last):
    ...
    symdescent.errors.ConfigError: [operators]: operator 'sine': unknown function 'sinn' at position 0; did you mean 'sin'?
    """
    from symdescent.expr.custom import OperatorSet

    if not isinstance(operators, Mapping):
        raise ConfigError(f"{where} must be a table of formulas by name, got {type(operators).__name__}")
    try:
        return OperatorSet(operators)
    except ExpressionError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_complexity(table: Mapping[str, Any], where: str) -> dict[str, int]:
    """A ``[complexity]`` table checked against the operators of the active table (built-ins and user operators):
    ``{name: integer >= 1}``, names also ``variable`` and ``constant``."""
    from symdescent.expr.custom import check_complexity_table

    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of complexities by operator name, e.g. exp = 3; got "
                          f"{type(table).__name__}")
    try:
        return check_complexity_table(table)
    except ExpressionError as exc:
        raise ConfigError(f"{where}: {exc}") from None


#: the keys of ``[constraints]``
CONSTRAINTS = ("nested",)


def check_constraints(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A ``[constraints]`` table checked: ``nested`` (see :func:`symdescent.expr.custom.check_nesting_table`).

    >>> check_constraints({"nested": {"sin": ["sin", "cos"]}}, "[constraints]")
    {'nested': {'sin': {'sin': 0, 'cos': 0}}}
    >>> check_constraints({"nesting": {}}, "[constraints]")
    Traceback (most recent call last):
    ...
    symdescent.errors.ConfigError: [constraints]: unknown key 'nesting'; did you mean 'nested'?; keys: nested
    """
    from symdescent.expr.custom import check_nesting_table

    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table (nested = {{sin = [\"sin\", \"cos\"]}}), got {type(table).__name__}")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in CONSTRAINTS:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(key, CONSTRAINTS)}; keys: "
                              f"{', '.join(CONSTRAINTS)}")
        try:
            out[key] = check_nesting_table(value)
        except ExpressionError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return out


def check_units_table(table: Mapping[str, Any], where: str) -> dict[str, str]:
    """A ``[units]`` table checked: a unit string per name, each one :func:`symdescent.units.parse_unit` reads.

    Which names the data has is checked by the search (:func:`symdescent.units.resolve_units`).

    >>> check_units_table({"v": "m/s", "n": 1}, "units")
    {'v': 'm/s', 'n': '1'}
    >>> check_units_table({"v": "m/sex"}, "units")
    Traceback (most recent call last):
    ...
    symdescent.errors.ConfigError: units.v 'm/sex': unknown unit 'sex' at position 2...
    """
    from symdescent.units import parse_unit

    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of unit strings by column name, e.g. speed = \"m/s\"; got "
                          f"{type(table).__name__}")
    out = {}
    for name, unit in table.items():
        if isinstance(unit, (int, float)) and not isinstance(unit, bool):
            unit = str(unit)  # --set units.n=1 (a TOML number): a scale, dimensionless
        parse_unit(unit, f"units.{name}", ConfigError)
        out[str(name)] = str(unit)
    return out


def loads_toml(text: str, source: str) -> dict:
    """``tomllib.loads``, where nesting too deep for its recursive parser is a :class:`ConfigError`.

    ``tomllib`` recurses once per level of nested arrays and inline tables, so
    ``[[[...]]]`` 100,000 deep would be a ``RecursionError``.  Syntax errors
    propagate as ``tomllib.TOMLDecodeError`` for the caller to word.
    """
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{source}: arrays or tables nested too deeply to read") from None


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML config file (None: the defaults)."""
    if path is None:
        return Config()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = loads_toml(p.read_text(encoding="utf-8"), str(p))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return config_from_dict(data, str(p))


def plugin_config(cls, section: Mapping[str, Any], name: str):
    """Validate one plugin's section against its config dataclass ``cls``.

    A config class may define ``from_section(section, where)`` (a classmethod)
    to take over validation, for example to accept pass-through keywords of
    a wrapped library; otherwise its dataclass fields are the accepted keys.
    """
    if cls is None:
        if section:
            raise ConfigError(f"plugin {name!r} takes no settings, but [plugins.{name}] has {', '.join(section)}")
        return None
    custom = getattr(cls, "from_section", None)
    if callable(custom):
        obj = custom(dict(section), f"plugins.{name}")
    else:
        obj = build_dataclass(cls, section, f"plugins.{name}")
    check = getattr(obj, "validate", None)
    return check() if callable(check) else obj


#: the flags (the command line's options, the estimator's parameters) that each set one setting, and its section
FLAGS = {
    "time_budget": "search", "max_iterations": "search", "seed": "search", "max_complexity": "search",
    "workers": "search", "scheduler": "search", "operators": "search",
    "proposers": "strategy", "refiners": "strategy", "scorer": "strategy",
}


def apply_flags(config: Config, settings: Mapping[str, Mapping[str, Any]] | None = None, **flags: Any) -> Config:
    """``config`` with ``settings``, then ``flags``, applied: how ``symdescent fit`` and the estimator build theirs.

    ``settings`` is ``{"search": {...}, "strategy": {...}, "plugins": {...}, "units": {...}}``
    (also ``"operators"``, ``"complexity"``, ``"constraints"``)
    (the command line's ``--set``; the estimator's ``plugin_options`` as
    ``{"plugins": ...}``).  Each flag is a key of :data:`FLAGS`: one left None
    keeps the value of the settings or the config; one given wins over both.
    One rule joins two flags: ``max_iterations`` without ``time_budget`` asks
    for an iteration budget alone, so the time budget is None (no limit)
    rather than the config's, which could end the run before its iterations.

    Examples
    --------
    >>> cfg = apply_flags(Config(), max_iterations=5)
    >>> cfg.search.max_iterations, cfg.search.time_budget
    (5, None)
    >>> apply_flags(Config(), max_iterations=5, time_budget=10).search.time_budget
    10.0
    >>> cfg = apply_flags(Config(), {"search": {"seed": 1}, "plugins": {"descent": {"population_size": 50}}}, seed=2)
    >>> cfg.search.seed, cfg.plugins["descent"]
    (2, {'population_size': 50})
    """
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        raise TypeError(f"apply_flags: unknown flag {unknown[0]!r}{did_you_mean(unknown[0], FLAGS)}")
    settings = settings or {}
    sections: dict[str, dict[str, Any]] = {"search": dict(settings.get("search") or {}),
                                           "strategy": dict(settings.get("strategy") or {})}
    for name, value in flags.items():
        if value is not None:
            sections[FLAGS[name]][name] = _plain(value)
    if flags.get("max_iterations") is not None and flags.get("time_budget") is None:
        sections["search"]["time_budget"] = None
    return config.with_overrides(search=sections["search"], strategy=sections["strategy"],
                                 plugins=settings.get("plugins"), units=settings.get("units"),
                                 operators=settings.get("operators"), complexity=settings.get("complexity"),
                                 constraints=settings.get("constraints"))


def _plain(value: Any) -> Any:
    """A flag's value as the config's types check it: NumPy integers and floats as Python's, a sequence as a list."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


__all__ = [
    "Config", "SearchConfig", "StrategyConfig", "load_config", "config_from_dict", "plugin_config",
    "build_dataclass", "loads_toml", "replace", "CommandLineWord", "DEFAULT_OPERATORS", "FLAGS", "apply_flags",
    "DIMENSIONAL_MODES", "WORKERS_ENV", "environment_workers", "check_units_table", "operator_set", "check_complexity",
    "check_constraints", "CONSTRAINTS",
]
