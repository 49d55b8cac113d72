"""Plugin discovery, and the role objects and callbacks of one search.

A plugin is described by a :class:`PluginInfo`: its name and a factory for
each role it can play (:mod:`symdescent.roles`).  The built-in strategies
(``random``, ``linear``, ``monomial``, ``descent``, ``mdl``, ``r2``: :data:`BUILTINS`) are registered
directly, so they work from a source tree without installation; third-party
plugins (and the bundled ``lee`` and ``pysr`` packages) are found through the
entry-point group ``symdescent``.  A name claimed twice, by two different
plugins, is an error when it is selected (and is listed as broken by
``symdescent plugins``).

For every search, :func:`build_strategy` builds the role objects of the plugins
that ``[strategy]`` selects, and only the roles it selects them for (a plugin
chosen as the scorer is never asked to propose); :func:`build_observers`
creates a fresh pluggy plugin manager that holds the callbacks, for the
lifecycle hooks of :mod:`symdescent.hookspecs`.

Example: a third-party plugin's pyproject.toml::

    [project.entry-points.symdescent]
    myprop = "my_package.plugin:PLUGIN"

where ``PLUGIN = PluginInfo(name="myprop", description="...", proposer=MyProposer)``
and ``MyProposer`` subclasses :class:`symdescent.roles.Proposer`.
"""

from __future__ import annotations

import dataclasses
import warnings
import zlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pluggy

from symdescent import hookspecs
from symdescent.config import Config, plugin_config
from symdescent.errors import PluginError, did_you_mean
from symdescent.roles import ROLE_CLASSES, Proposer, Refiner, Role, Scorer

ROLES = ("proposer", "refiner", "scorer")
ENTRY_POINT_GROUP = "symdescent"


@dataclass(frozen=True)
class PluginContext:
    """What a plugin role's factory receives.

    Attributes
    ----------
    name : str
        The plugin's name.
    role : str
        ``"proposer"``, ``"refiner"`` or ``"scorer"``.
    config : object or None
        The plugin's validated config dataclass (its ``[plugins.NAME]`` section).
    seed : int
        The search's seed.
    rng : numpy.random.Generator
        A generator for this plugin role, derived from the seed and the names.
    shared : dict
        A dict shared by the roles of the same plugin within one search (for
        example a loaded model used by both proposer and refiner).
    search : Config
        The whole search configuration (read it, do not change it).
    """

    name: str
    role: str
    config: Any
    seed: int
    rng: np.random.Generator
    shared: dict
    search: Config


Factory = Callable[[PluginContext], object]


@dataclass(frozen=True)
class PluginInfo:
    """Describes a plugin: its name, roles, config section and availability.

    Parameters
    ----------
    name : str
        The name used in ``[strategy]`` and ``[plugins.NAME]``.
    description : str
        One line for ``symdescent plugins``.
    proposer, refiner, scorer : callable, optional
        Factories ``f(context) -> role object``: a
        :class:`~symdescent.roles.Proposer`, :class:`~symdescent.roles.Refiner`
        or :class:`~symdescent.roles.Scorer` (usually the subclass itself).
        Only the roles the configuration selects are built.
    config : type, optional
        A frozen dataclass describing ``[plugins.NAME]``; its fields are the
        accepted keys.
    check : callable, optional
        Returns None when the plugin can run here, or a message saying what is
        missing and how to install it.
    """

    name: str
    description: str
    proposer: Factory | None = None
    refiner: Factory | None = None
    scorer: Factory | None = None
    config: type | None = None
    check: Callable[[], str | None] | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r in ROLES if getattr(self, r) is not None)

    def unavailable_reason(self, config: Any = None) -> str | None:
        """None when the plugin can run here; else why not.  ``check`` may take
        the plugin's parsed config (to look at a configured model path, say)."""
        if self.check is None:
            return None
        try:
            import inspect

            takes_config = len(inspect.signature(self.check).parameters) >= 1
            return self.check(config) if takes_config else self.check()
        except Exception as exc:  # a broken check must not break discovery
            return f"availability check failed: {exc}"


@dataclass
class Registry:
    """The plugins known to one search: the built-ins, installed entry points, extras."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    #: name -> why it cannot be used (failed to load, not a PluginInfo, claimed twice)
    broken: dict[str, str] = field(default_factory=dict)
    #: name -> where it came from ("built-in", "entry point mod:OBJ", "passed in")
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def discover(cls, extra: Iterable[PluginInfo] = ()) -> "Registry":
        """The built-ins, then every installed entry point, then ``extra``."""
        reg = cls()
        for info in builtins():
            reg.add(info, "built-in")
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            source = f"entry point {ep.value}"
            try:
                info = ep.load()
            except Exception as exc:  # report, don't crash: other plugins still work
                reg.broken.setdefault(ep.name, f"{type(exc).__name__}: {exc}")
                continue
            if not isinstance(info, PluginInfo):
                reg.broken.setdefault(ep.name, f"{source} is not a PluginInfo")
                continue
            try:
                reg.add(info, source)
            except PluginError as exc:  # a clash makes the name unusable, not the registry
                reg.plugins.pop(info.name, None)
                reg.broken[info.name] = str(exc)
        for info in extra:
            reg.add(info)
        return reg

    def add(self, info: PluginInfo, source: str = "passed in") -> None:
        """Register ``info``; a different plugin under a name already taken is a PluginError.

        Adding the very same :class:`PluginInfo` again (an installed plugin also
        passed in explicitly, as the conformance suite does) is allowed.
        """
        if not isinstance(info, PluginInfo):
            raise PluginError(f"expected a PluginInfo, got {type(info).__name__}")
        known = self.plugins.get(info.name)
        if known is not None and known is not info:
            raise PluginError(f"plugin name {info.name!r} is registered twice: by {self.sources[info.name]} "
                              f"and by {source}; uninstall one of them or rename it")
        if info.name in self.broken:
            raise PluginError(f"plugin name {info.name!r} is taken: {self.broken[info.name]}")
        self.plugins[info.name] = info
        self.sources.setdefault(info.name, source)

    def get(self, name: str, role: str | None = None) -> PluginInfo:
        info = self.plugins.get(name)
        if info is None:
            if name in self.broken:
                raise PluginError(f"plugin {name!r} cannot be used: {self.broken[name]}")
            raise PluginError(
                f"unknown plugin {name!r}{did_you_mean(name, self.plugins)}; installed: {', '.join(sorted(self.plugins))}"
            )
        if role is not None and getattr(info, role) is None:
            offer = [n for n, i in self.plugins.items() if getattr(i, role) is not None]
            raise PluginError(
                f"plugin {name!r} cannot act as a {role} (it provides: {', '.join(info.roles) or 'nothing'}); "
                f"{role}s installed: {', '.join(sorted(offer))}"
            )
        return info

    def validate(self, config: Config) -> dict[str, Any]:
        """Check strategy names, availability and plugin sections; return parsed sections."""
        selected: dict[str, set[str]] = {}
        for role, names in (("proposer", config.strategy.proposers), ("refiner", config.strategy.refiners),
                            ("scorer", (config.strategy.scorer,))):
            for name in names:
                self.get(name, role)
                selected.setdefault(name, set()).add(role)
        if not config.strategy.proposers and not config.strategy.refiners:
            raise PluginError("strategy selects no proposer and no refiner: nothing would search")
        for name in config.plugins:
            if name not in self.plugins:
                raise PluginError(
                    f"[plugins.{name}] configures an unknown plugin{did_you_mean(name, self.plugins)}; "
                    f"installed: {', '.join(sorted(self.plugins))}"
                )
        parsed = {}
        for name in selected:
            info = self.plugins[name]
            parsed[name] = plugin_config(info.config, config.plugin_section(name), name)
            reason = info.unavailable_reason(parsed[name])
            if reason:
                raise PluginError(f"plugin {name!r} is unavailable: {reason}")
        for name in config.plugins:  # sections of unselected plugins are still checked for typos
            if name not in parsed:
                plugin_config(self.plugins[name].config, config.plugin_section(name), name)
        return parsed


def builtins() -> tuple[PluginInfo, ...]:
    """The strategies that ship inside symdescent itself (imported on first use)."""
    from symdescent.plugins.descent import DESCENT
    from symdescent.plugins.linear import LINEAR
    from symdescent.plugins.monomial import MONOMIAL
    from symdescent.plugins.random import RANDOM
    from symdescent.plugins.scorers import MDL, R2

    return (RANDOM, LINEAR, MONOMIAL, DESCENT, MDL, R2)


def derive_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the seed and the given names."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF] + [zlib.crc32(n.encode()) for n in names])


@dataclass(frozen=True)
class Selected:
    """One role object of one search: which plugin made it, for which role."""

    name: str
    role: str
    impl: Role


@dataclass(frozen=True)
class Strategy:
    """The role objects of one search, in ``[strategy]`` order."""

    proposers: tuple[Selected, ...]
    refiners: tuple[Selected, ...]
    scorer: Selected

    def all(self) -> tuple[Selected, ...]:
        """Every role object: proposers, refiners, then the scorer (the order of start and finish)."""
        return self.proposers + self.refiners + (self.scorer,)

    def get(self, name: str, role: str) -> Role:
        """The role object plugin ``name`` plays as ``role`` in this search."""
        for sel in self.all():
            if sel.name == name and sel.role == role:
                return sel.impl
        raise KeyError(f"plugin {name!r} is not selected as a {role} in this search")


def build_strategy(config: Config, registry: Registry) -> Strategy:
    """Build the role objects that ``config.strategy`` selects, and only those.

    Each factory is called once per search, with a :class:`PluginContext`
    whose generator depends only on the seed, the plugin's name and the role.
    A name listed twice for the same role is built once.
    """
    parsed = registry.validate(config)
    shared: dict[str, dict] = {}

    def build(role: str, name: str) -> Selected:
        info = registry.plugins[name]
        ctx = PluginContext(
            name=name, role=role, config=parsed[name], seed=config.search.seed,
            rng=derive_rng(config.search.seed, name, role), shared=shared.setdefault(name, {}), search=config,
        )
        try:
            obj = getattr(info, role)(ctx)
        except TypeError as exc:  # e.g. an abstract method left out (a misspelt ``propose``)
            raise PluginError(f"plugin {name!r}: building its {role} failed: {exc}") from exc
        return Selected(name, role, as_role(obj, role, name))

    st = config.strategy
    return Strategy(
        proposers=tuple(build("proposer", n) for n in dict.fromkeys(st.proposers)),
        refiners=tuple(build("refiner", n) for n in dict.fromkeys(st.refiners)),
        scorer=build("scorer", st.scorer),
    )


def build_observers(callbacks: Iterable[object] = ()) -> pluggy.PluginManager:
    """A fresh plugin manager with the lifecycle hooks and the callbacks.

    A callback that implements a role's hook (``symdescent_score``, say) or a
    misspelt hook is refused with a PluginError.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for i, cb in enumerate(callbacks):
        for hook, role in hookspecs.ROLE_HOOKS.items():
            if callable(getattr(cb, hook, None)):
                raise PluginError(
                    f"callback {type(cb).__name__} implements {hook}: callbacks observe the search "
                    f"(symdescent_start, symdescent_iteration_end, symdescent_should_stop, symdescent_finish); "
                    f"a {role} is a plugin selected in [strategy] (see symdescent.roles)")
        pm.register(cb, name=f"callback:{i}:{type(cb).__name__}")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a callback implements an unknown hook: {exc}") from None
    return pm


def as_role(obj: object, role: str, name: str) -> Role:
    """``obj`` as a role object: itself when it subclasses the role's base class.

    Compatibility path: an object written for the former hook-based plugin API
    (``@hookimpl`` methods ``symdescent_propose``/``_refine``/``_score``, with
    optional ``symdescent_start``/``_finish``) is wrapped, with a
    DeprecationWarning.
    """
    base = ROLE_CLASSES[role]
    if isinstance(obj, base):
        return obj
    verb = {"proposer": "propose", "refiner": "refine", "scorer": "score"}[role]
    if not callable(getattr(obj, f"symdescent_{verb}", None)):
        raise PluginError(f"plugin {name!r}: its {role} factory returned a {type(obj).__name__}, "
                          f"which is not a symdescent.roles.{base.__name__}")
    for hook in ("symdescent_iteration_end", "symdescent_should_stop"):
        if callable(getattr(obj, hook, None)):
            raise PluginError(f"plugin {name!r}: its {role} implements {hook}; role objects have start and "
                              "finish only: observe iterations with a callback")
    warnings.warn(f"plugin {name!r}: hook-style {role} objects are deprecated; subclass "
                  f"symdescent.roles.{base.__name__} (see docs/plugins.md)", DeprecationWarning, stacklevel=3)
    return _HOOK_ADAPTERS[role](obj)


class _HookRole:
    """Forwards start/finish to a hook-style object's ``symdescent_start``/``_finish``."""

    def __init__(self, obj: object):
        self.obj = obj

    def start(self, problem, state) -> None:
        if callable(getattr(self.obj, "symdescent_start", None)):
            self.obj.symdescent_start(problem=problem, state=state)

    def finish(self, problem, result) -> None:
        if callable(getattr(self.obj, "symdescent_finish", None)):
            self.obj.symdescent_finish(problem=problem, result=result)


class _HookProposer(_HookRole, Proposer):
    def propose(self, problem, state):
        return self.obj.symdescent_propose(problem=problem, state=state)


class _HookRefiner(_HookRole, Refiner):
    def refine(self, problem, candidates, state):
        return self.obj.symdescent_refine(problem=problem, candidates=candidates, state=state)


class _HookScorer(_HookRole, Scorer):
    def score(self, problem, candidate):
        return self.obj.symdescent_score(problem=problem, candidate=candidate)


_HOOK_ADAPTERS = {"proposer": _HookProposer, "refiner": _HookRefiner, "scorer": _HookScorer}


def describe(registry: Registry) -> list[dict[str, Any]]:
    """Rows for ``symdescent plugins``: name, roles, availability, description."""
    rows = []
    for name in sorted(registry.plugins):
        info = registry.plugins[name]
        reason = info.unavailable_reason()
        keys = [f.name for f in dataclasses.fields(info.config)] if dataclasses.is_dataclass(info.config) else []
        rows.append({"name": name, "roles": list(info.roles), "available": reason is None,
                     "reason": reason or "", "description": info.description, "settings": keys})
    for name, err in sorted(registry.broken.items()):
        rows.append({"name": name, "roles": [], "available": False, "reason": err,
                     "description": "cannot be used (see reason)", "settings": []})
    return rows

