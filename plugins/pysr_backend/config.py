"""The ``[plugins.pysr]`` section: symdescent's own keys plus PySRRegressor keywords.

Example::

    [plugins.pysr]
    niterations = 10                  # PySR iterations per symdescent iteration
    fraction_replaced_guesses = 0.05  # how strongly the proposers' guesses seed PySR
    # any keyword of the installed PySRRegressor passes through:
    ncycles_per_iteration = 200
    precision = 64

Every key that is not one of :class:`PySRConfig`'s fields must be a keyword
of the installed ``PySRRegressor.__init__`` (read from its source, see
:mod:`symdescent_pysr.signature`); a typo is a :class:`ConfigError` with a
did-you-mean over both sets.  When pysr is not installed the keywords cannot
be checked and are kept as given (the plugin is unavailable then anyway).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from symdescent.config import build_dataclass
from symdescent.errors import ConfigError, did_you_mean

from symdescent_pysr.signature import pysr_keywords

PASS_THROUGH = "pysr_keywords"


@dataclass(frozen=True)
class PySRConfig:
    """Settings of the ``pysr`` refiner.

    Attributes
    ----------
    niterations : int
        PySR iterations per refine call (symdescent calls the refiner once per
        iteration and PySR continues where it stopped, see ``warm_start``).
        With a time budget this is an upper bound: the call also ends at the
        iteration's deadline.
    populations, population_size : int or None
        PySR's population count and size (None: PySR's defaults).
    maxsize : int or None
        Largest complexity PySR builds (None: ``search.max_complexity``,
        at least 7, PySR's minimum).
    fraction_replaced_guesses : float
        Share of each PySR population replaced by the proposers' guesses at
        every migration (PySR's default, 0.001, would hardly use them).
    max_guesses : int
        Proposer candidates passed to PySR as guesses per call, best first.
    timeout_margin : float
        Seconds kept free before the iteration's deadline for reading PySR's
        results back and scoring them.
    min_chunk_seconds : float
        PySR is not started when less time than this is left in the iteration
        (a call has a fixed overhead); raise ``search.iteration_seconds`` if
        that happens every iteration.
    warm_start : bool
        Continue PySR's populations and hall of fame from one iteration to the
        next (False: a fresh PySR run every iteration).
    pysr_keywords : mapping
        Any other ``PySRRegressor`` keyword, as given (flat keys of the section,
        or a ``[plugins.pysr.pysr_keywords]`` table).
    """

    niterations: int = 10
    populations: int | None = None
    population_size: int | None = None
    maxsize: int | None = None
    fraction_replaced_guesses: float = 0.05
    max_guesses: int = 32
    timeout_margin: float = 0.5
    min_chunk_seconds: float = 0.5
    warm_start: bool = True
    pysr_keywords: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pysr_keywords", MappingProxyType(dict(self.pysr_keywords)))  # read-only

    @classmethod
    def from_section(cls, section: Mapping[str, Any], where: str = "plugins.pysr") -> "PySRConfig":
        """Validate a ``[plugins.pysr]`` table (see the module docstring).

        Raises
        ------
        ConfigError
            For a key that is neither a setting nor a PySRRegressor keyword, or
            a value of the wrong type.

        Examples
        --------
        >>> PySRConfig.from_section({"niterations": 3}).niterations
        3
        """
        own = {f.name for f in dataclasses.fields(cls)} - {PASS_THROUGH}
        allowed = pysr_keywords()
        typed: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in section.items():
            if key in own:
                typed[key] = value
            elif key == PASS_THROUGH:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{where}.{PASS_THROUGH}: expected a table of PySRRegressor keywords, "
                                      f"got {type(value).__name__}")
                for k, v in value.items():
                    if k in own:
                        raise ConfigError(f"{where}.{PASS_THROUGH}.{k}: {k!r} is a setting of the plugin; "
                                          f"write it as {where}.{k}")
                    check_keyword(k, allowed, own, f"{where}.{PASS_THROUGH}")
                    extra[k] = v
            else:
                check_keyword(key, allowed, own, where)
                extra[key] = value
        return build_dataclass(cls, {**typed, PASS_THROUGH: extra}, where)

    def validate(self) -> "PySRConfig":
        """Check value ranges; return self."""
        where = "plugins.pysr"
        for key in ("niterations", "populations", "population_size"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{where}.{key} must be >= 1, got {value}")
        if self.maxsize is not None and self.maxsize < 7:
            raise ConfigError(f"{where}.maxsize must be >= 7 (PySR's minimum), got {self.maxsize}")
        if not 0 <= self.fraction_replaced_guesses <= 1:
            raise ConfigError(f"{where}.fraction_replaced_guesses must be in [0, 1], "
                              f"got {self.fraction_replaced_guesses}")
        if self.max_guesses < 0:
            raise ConfigError(f"{where}.max_guesses must be >= 0, got {self.max_guesses}")
        if self.timeout_margin < 0 or self.min_chunk_seconds < 0:
            raise ConfigError(f"{where}.timeout_margin and min_chunk_seconds must be >= 0")
        return self


def check_keyword(key: str, allowed: tuple[str, ...] | None, own: set[str], where: str) -> None:
    """Raise :class:`ConfigError` unless ``key`` is a PySRRegressor keyword.

    ``allowed`` None (pysr not installed) accepts every key unchecked.
    """
    if allowed is None or key in allowed:
        return
    raise ConfigError(
        f"unknown key {key!r} in [{where}]: neither a setting of the pysr plugin nor a keyword of "
        f"PySRRegressor (pysr {_pysr_version()}){did_you_mean(key, sorted(own | set(allowed)))}; "
        f"plugin settings: {', '.join(sorted(own))}; PySRRegressor keywords: see help(pysr.PySRRegressor)"
    )


def _pysr_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pysr")
    except PackageNotFoundError:  # pragma: no cover - only called when its source was found
        return "unknown version"
