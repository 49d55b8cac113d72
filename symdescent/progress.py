"""A live progress display, as a lifecycle-hook callback: the command line's, and the estimator's ``verbose``."""

from __future__ import annotations

import math
import sys
import time

from symdescent.hookspecs import hookimpl


class RichProgress:
    """Shows iteration, best loss, front size and time left while a search runs.

    On a terminal (or with ``force``) a live bar; otherwise (a log file, a
    pipe, ``docker logs``, a notebook) plain lines: one when the search
    starts, then one every ``log_every`` seconds (default: a tenth of the
    budget, 5 to 60 s; 0: one after every iteration).  ``label`` names the
    search in each line (the target, when one run fits several).

    Examples
    --------
    >>> import io, numpy as np
    >>> from symdescent.search import Search
    >>> X = np.linspace(1, 2, 30)[:, None]
    >>> log = io.StringIO()
    >>> config = {"search": {"max_iterations": 2, "time_budget": None}}
    >>> _ = Search(X, 3 * X[:, 0], config=config, callbacks=[RichProgress(None, 2, stream=log, log_every=0,
    ...                                                                     label="y")]).run()
    >>> lines = log.getvalue().splitlines()
    >>> len(lines), lines[0][:49], lines[-1].split()[4:6]
    (3, 'symdescent [y]: searching 30 rows x 1 columns for', ['iter', '2'])
    """

    def __init__(self, time_budget: float | None, max_iterations: int | None, force: bool = False, stream=None,
                 log_every: float | None = None, label: str | None = None):
        self.stream = stream or sys.stderr
        self.label = label
        self.enabled = force or self.stream.isatty()
        self.time_budget = time_budget
        self.max_iterations = max_iterations
        if log_every is None:
            log_every = min(60.0, max(5.0, time_budget / 10)) if time_budget is not None else 10.0
        self.log_every = log_every
        self._progress = None
        self._task = None
        self._next_line = float("inf")

    def _line(self, text: str) -> None:
        print(f"{self._name()}: {text}", file=self.stream, flush=True)

    def _name(self) -> str:
        return "symdescent" if self.label is None else f"symdescent [{self.label}]"

    @hookimpl
    def symdescent_start(self, problem, state):
        self._t0 = time.monotonic()
        if not self.enabled:
            budget = (f"{self.time_budget:g} s" if self.time_budget is not None
                      else f"{self.max_iterations} iterations")
            self._line(f"searching {problem.n_samples} rows x {problem.n_features} columns for {budget}; "
                       "Ctrl-C or SIGTERM stops and keeps the best so far")
            self._next_line = self._t0 + self.log_every
            return
        from rich.console import Console
        from rich.markup import escape
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        total = self.time_budget if self.time_budget is not None else float(self.max_iterations or 1)
        name = escape(self._name()).replace("{", "{{").replace("}", "}}")  # rich markup, then str.format
        self._progress = Progress(
            TextColumn(f"[bold]{name}[/]"), BarColumn(), TextColumn("{task.description}"),
            TimeRemainingColumn(), console=Console(file=self.stream), transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("starting", total=total)
        self._t0 = time.monotonic()

    @hookimpl
    def symdescent_iteration_end(self, problem, state):
        best = state.best
        loss = f"{best.loss:.3g}" if best is not None and math.isfinite(best.loss) else "-"
        r2 = f"{best.r2:.6f}" if best is not None else "-"
        desc = f"iter {state.iteration}  best loss {loss}  R² {r2}  front {len(state.front)}  evals {state.n_evaluations}"
        now = time.monotonic()
        if self._progress is None:
            if now >= self._next_line:
                self._line(f"{now - self._t0:.0f} s  {desc}")
                self._next_line = now + self.log_every
            return
        done = now - self._t0 if self.time_budget is not None else state.iteration
        self._progress.update(self._task, completed=done, description=desc)

    @hookimpl
    def symdescent_finish(self, problem, result):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
