"""A live progress display for the command line, as a lifecycle-hook callback."""

from __future__ import annotations

import math
import sys
import time

from symdescent.hookspecs import hookimpl


class RichProgress:
    """Shows iteration, best loss, front size and time left while a search runs.

    Stays silent when the output is not a terminal (unless ``force``), so logs
    and pipes get only the final report.
    """

    def __init__(self, time_budget: float | None, max_iterations: int | None, force: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.time_budget = time_budget
        self.max_iterations = max_iterations
        self._progress = None
        self._task = None

    @hookimpl
    def symdescent_start(self, problem, state):
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        total = self.time_budget if self.time_budget is not None else float(self.max_iterations or 1)
        self._progress = Progress(
            TextColumn("[bold]symdescent[/]"), BarColumn(), TextColumn("{task.description}"),
            TimeRemainingColumn(), console=Console(file=self.stream), transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("starting", total=total)
        self._t0 = time.monotonic()

    @hookimpl
    def symdescent_iteration_end(self, problem, state):
        if self._progress is None:
            return
        best = state.best
        loss = f"{best.loss:.3g}" if best is not None and math.isfinite(best.loss) else "-"
        r2 = f"{best.r2:.6f}" if best is not None else "-"
        desc = f"iter {state.iteration}  best loss {loss}  R² {r2}  front {len(state.front)}  evals {state.n_evaluations}"
        done = time.monotonic() - self._t0 if self.time_budget is not None else state.iteration
        self._progress.update(self._task, completed=done, description=desc)

    @hookimpl
    def symdescent_finish(self, problem, result):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
