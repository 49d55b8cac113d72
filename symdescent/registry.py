"""Plugin discovery and per-search plugin managers.

A plugin is described by a :class:`PluginInfo`, published under the entry-point
group ``symdescent`` (the built-ins are published the same way, in
symdescent's own pyproject.toml).  For every search, :func:`build_manager`
creates a fresh :class:`pluggy.PluginManager`, instantiates only the roles the
configuration selects, registers them and calls ``check_pending()`` so that a
misspelt hook implementation fails loudly.

Example: a third-party plugin's pyproject.toml::

    [project.entry-points.symdescent]
    myprop = "my_package.plugin:PLUGIN"

where ``PLUGIN = PluginInfo(name="myprop", description="...", proposer=MyProposer)``.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pluggy

from symdescent import hookspecs
from symdescent.config import Config, plugin_config
from symdescent.errors import PluginError, did_you_mean

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
        Factories ``f(context) -> object`` whose result implements the hooks
        of that role (``symdescent_propose``, ``symdescent_refine``,
        ``symdescent_score``) and any lifecycle hooks.
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
    """The plugins known to one search: installed entry points plus extras."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)

    @classmethod
    def discover(cls, extra: Iterable[PluginInfo] = ()) -> "Registry":
        reg = cls()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                info = ep.load()
            except Exception as exc:  # report, don't crash: other plugins still work
                reg.broken[ep.name] = f"{type(exc).__name__}: {exc}"
                continue
            if not isinstance(info, PluginInfo):
                reg.broken[ep.name] = f"entry point {ep.value} is not a PluginInfo"
                continue
            reg.plugins.setdefault(info.name, info)
        for info in extra:
            reg.add(info)
        return reg

    def add(self, info: PluginInfo) -> None:
        if not isinstance(info, PluginInfo):
            raise PluginError(f"expected a PluginInfo, got {type(info).__name__}")
        self.plugins[info.name] = info

    def get(self, name: str, role: str | None = None) -> PluginInfo:
        info = self.plugins.get(name)
        if info is None:
            if name in self.broken:
                raise PluginError(f"plugin {name!r} is installed but failed to load: {self.broken[name]}")
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


def derive_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the seed and the given names."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF] + [zlib.crc32(n.encode()) for n in names])


def build_manager(config: Config, registry: Registry, callbacks: Iterable[object] = ()) -> pluggy.PluginManager:
    """A fresh plugin manager with the selected plugin roles and the callbacks."""
    parsed = registry.validate(config)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    shared: dict[str, dict] = {}
    roles = [("proposer", n) for n in config.strategy.proposers] + [("refiner", n) for n in config.strategy.refiners]
    roles.append(("scorer", config.strategy.scorer))
    seen = set()
    for role, name in roles:
        if (role, name) in seen:
            continue
        seen.add((role, name))
        info = registry.plugins[name]
        ctx = PluginContext(
            name=name, role=role, config=parsed[name], seed=config.search.seed,
            rng=derive_rng(config.search.seed, name, role), shared=shared.setdefault(name, {}), search=config,
        )
        obj = getattr(info, role)(ctx)
        pm.register(obj, name=f"{name}:{role}")
    for i, cb in enumerate(callbacks):
        pm.register(cb, name=f"callback:{i}:{type(cb).__name__}")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements an unknown hook: {exc}") from None
    return pm


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
        rows.append({"name": name, "roles": [], "available": False, "reason": err, "description": "failed to load",
                     "settings": []})
    return rows

