"""The ``pysr`` refiner: PySR as a search strategy inside symdescent.

Select it like any other refiner::

    [strategy]
    proposers = ["lee"]
    refiners = ["pysr"]

How it runs
-----------
One ``PySRRegressor`` per search, fitted in *chunks*: every symdescent
iteration calls the refiner once, and the refiner continues PySR's search
(``warm_start``) for at most ``niterations`` PySR iterations and until the
iteration's deadline (``timeout_in_seconds`` = time left in the iteration
minus ``timeout_margin``).  Chunks rather than one long fit, because then

* the proposers' newest candidates (LEE's proposals) reach PySR every
  iteration as ``guesses`` (they enter its hall of fame with fitted
  constants and migrate into its populations at ``fraction_replaced_guesses``);
* PySR's hall of fame joins symdescent's Pareto front every iteration, so
  other refiners, the progress display, ``symdescent_should_stop`` and Ctrl-C
  see it while the search runs, and the time budget is kept by the loop.

Its cost is a fixed overhead per call (building PySR's options, copying the
data and the saved state), hence ``min_chunk_seconds``.  Julia's start and
compilation on the first call are outside what ``timeout_in_seconds``
bounds: the first iteration can overrun its slice by that much.

Determinism: with the search's seed, ``random_state=seed``,
``deterministic=True`` and ``parallelism="serial"``.  As with the ``descent``
refiner, a search bounded by ``max_iterations`` (no time budget) is then
reproducible: each chunk runs exactly ``niterations`` PySR iterations.  Under
a time budget the chunks end by the clock, so results depend on speed.

pysr (and with it Julia) is imported only on the first refine call; the
plugin's availability check (:mod:`symdescent_pysr.julia`) runs before any
search starts and needs neither.  PySR's results are never made up: when
PySR cannot run, the search fails with the reason.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
import warnings
from typing import Any

from symdescent.errors import PluginError
from symdescent.registry import PluginContext, PluginInfo
from symdescent.roles import Refiner

from symdescent_pysr.config import PySRConfig
from symdescent_pysr.guesses import build_guesses, pysr_variable_names
from symdescent_pysr.julia import unavailable_reason
from symdescent_pysr.operators import translatable_operators, translate_operators
from symdescent_pysr.parsing import parse_equations

_OPERATOR_KEYWORDS = ("binary_operators", "unary_operators", "operators")
_OUTPUT_KEYWORDS = ("output_directory", "temp_equation_file", "tempdir")


class PySRRefiner(Refiner):
    """Runs PySR in chunks, seeded with the proposers' candidates.

    Parameters
    ----------
    ctx : PluginContext
        ``ctx.config`` is a :class:`~symdescent_pysr.config.PySRConfig`.

    Raises
    ------
    PluginError
        When ``search.operators`` holds an operator PySR has no counterpart
        for (and ``[plugins.pysr]`` does not set PySR's operators itself).
    """

    def __init__(self, ctx: PluginContext):
        self.cfg: PySRConfig = ctx.config or PySRConfig()
        self.seed = ctx.seed
        self.translation = translate_operators(ctx.search.search.operators)
        user_ops = any(k in self.cfg.pysr_keywords for k in _OPERATOR_KEYWORDS)
        if self.translation.untranslated and not user_ops:
            raise PluginError(
                f"the pysr refiner cannot use search.operators {', '.join(self.translation.untranslated)}: "
                f"PySR has no counterpart for them (translatable: {', '.join(translatable_operators())}; a user "
                f"operator defined by a formula is translated by writing it out, one defined by a Python function "
                f"cannot be, as PySR's own custom operators are Julia source); "
                "remove them from search.operators or set binary_operators/unary_operators in [plugins.pysr]"
            )
        self.model: Any = None
        self.names: list[str] = []
        self.maxsize = self.cfg.maxsize or 7
        self.seen: set[str] = set()
        self.skipped: list[tuple[str, str]] = []
        self.chunks = 0
        self.short_slices = 0
        self._tempdir: str | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self, problem, state):
        self.names = pysr_variable_names(problem.n_features)
        self.maxsize = self.cfg.maxsize or max(7, problem.max_complexity)

    def finish(self, problem, result):
        if self.chunks == 0 and self.short_slices:
            warnings.warn(
                f"the pysr refiner never ran: {self.short_slices} iteration(s) left less than "
                f"plugins.pysr.min_chunk_seconds ({self.cfg.min_chunk_seconds} s) after timeout_margin; "
                "raise search.iteration_seconds or search.time_budget", RuntimeWarning, stacklevel=2)
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    # -- the refine hook ---------------------------------------------------------
    def refine(self, problem, candidates, state):
        timeout = self.chunk_timeout(state.deadline, time.monotonic())
        if timeout is not None and timeout < self.cfg.min_chunk_seconds:
            self.short_slices += 1
            return None
        guesses = build_guesses(candidates, self.translation.mapping, self.names,
                                limit=self.cfg.max_guesses, max_size=self.maxsize)
        model = self._regressor()
        model.set_params(
            niterations=self.cfg.niterations,
            timeout_in_seconds=timeout,
            guesses=guesses or None,
            warm_start=self.cfg.warm_start and self.chunks > 0,
        )
        try:
            model.fit(problem.X, problem.y, variable_names=self.names)
        except RuntimeError as exc:
            if "equation file" in str(exc):  # stopped before PySR finished one iteration
                return None
            raise PluginError(f"PySR failed: {exc}") from exc
        except Exception as exc:  # Julia errors, PySR's parameter checks
            raise PluginError(f"PySR failed: {type(exc).__name__}: {exc}") from exc
        self.chunks += 1
        return self.read_results(model.equations_, problem.operators, problem.max_complexity)

    def chunk_timeout(self, deadline: float, now: float) -> float | None:
        """Seconds PySR may run in this chunk (None: no time limit, the search is iteration-bounded).

        A ``timeout_in_seconds`` in ``[plugins.pysr]`` caps every chunk further.
        """
        user = self.cfg.pysr_keywords.get("timeout_in_seconds")
        if not math.isfinite(deadline):
            return float(user) if user is not None else None
        left = deadline - now - self.cfg.timeout_margin
        return min(left, float(user)) if user is not None else left

    def read_results(self, table, operators, max_complexity: int | None = None) -> list:
        """Expressions of PySR's table that were not returned before.

        Rows over ``max_complexity`` symdescent nodes are left out (PySR
        counts its own way, and a larger ``maxsize`` may be configured).
        """
        parsed = parse_equations(table, self.names, operators)
        self.skipped.extend(parsed.skipped)
        out = []
        for expr, text in zip(parsed.expressions, parsed.equations):
            if max_complexity is not None and expr.complexity > max_complexity:
                continue
            if text not in self.seen:
                self.seen.add(text)
                out.append(expr)
        return out

    # -- PySR ----------------------------------------------------------------------
    def regressor_keywords(self, tempdir: str | None = None) -> dict[str, Any]:
        """The PySRRegressor keywords of this search (without the per-chunk ones).

        ``tempdir`` is where PySR's hall-of-fame files go unless the section
        chooses (``output_directory``, ``temp_equation_file``, ``tempdir``);
        PySR would otherwise write them under ``./outputs`` and keep them.
        """
        user = dict(self.cfg.pysr_keywords)
        kw: dict[str, Any] = {
            "maxsize": self.maxsize,
            "fraction_replaced_guesses": self.cfg.fraction_replaced_guesses,
            "random_state": self.seed,
            "deterministic": True,
            "parallelism": "serial",
            "verbosity": 0,
            "progress": False,
        }
        if not any(k in user for k in _OPERATOR_KEYWORDS):
            kw.update(self.translation.keywords())
        for key in ("populations", "population_size"):
            if getattr(self.cfg, key) is not None:
                kw[key] = getattr(self.cfg, key)
        if tempdir is not None and not any(k in user for k in _OUTPUT_KEYWORDS):
            kw.update(temp_equation_file=True, tempdir=tempdir)
        if user.get("parallelism", "serial") != "serial" and "deterministic" not in user:
            kw["deterministic"] = False  # PySR refuses deterministic runs that are not serial
        if isinstance(user.get("constraints"), dict):  # TOML has lists where PySR wants tuples
            user["constraints"] = {k: tuple(v) if isinstance(v, list) else v for k, v in user["constraints"].items()}
        user.pop("timeout_in_seconds", None)  # applied per chunk, see chunk_timeout
        kw.update(user)
        return kw

    def _regressor(self):
        if self.model is None:
            reason = unavailable_reason()
            if reason:  # checked before the search too; the environment may have changed since
                raise PluginError(f"plugin 'pysr' is unavailable: {reason}")
            from pysr import PySRRegressor  # starts Julia: only here, on the first chunk

            if not any(k in self.cfg.pysr_keywords for k in _OUTPUT_KEYWORDS):
                self._tempdir = tempfile.mkdtemp(prefix="symdescent-pysr-")  # removed at finish
            try:
                self.model = PySRRegressor(**self.regressor_keywords(self._tempdir))
            except (TypeError, ValueError) as exc:
                raise PluginError(f"PySRRegressor rejected the [plugins.pysr] settings: {exc}") from exc
        return self.model


def check_available(config: PySRConfig | None = None) -> str | None:
    """``PluginInfo.check``: None when PySR can run here, else what is missing and how to install it.

    Looks for pysr and a Julia runtime without importing pysr or starting
    Julia (rules in :mod:`symdescent_pysr.julia`); the section's settings do
    not change the answer.
    """
    return unavailable_reason()


PYSR = PluginInfo(
    name="pysr",
    description="PySR (SymbolicRegression.jl) run in chunks with warm start, seeded with the proposers' candidates",
    refiner=PySRRefiner,
    config=PySRConfig,
    check=check_available,
)
