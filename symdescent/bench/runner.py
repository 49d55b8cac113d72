"""Running a benchmark: the plan, resuming, and one Dask task per run.

A run is one (method, problem, seed, noise).  :func:`run_benchmark` skips
the runs whose rows are already in the results CSV, submits the others to a
Dask cluster (a ``LocalCluster`` of single-threaded worker processes sized to
the cores, or an existing scheduler), and appends each row to the CSV as soon
as its run finishes, so Ctrl-C or a crash loses only the runs in flight.

Runs of a method that cannot run here (PySR without Julia) are written as
``unavailable`` rows with the reason, without being submitted; they are tried
again on the next invocation.  Runs that raised are ``error`` rows, kept on
resume unless ``retry_errors``.

Rows of a real table (the black-box track) have ``truth`` =
:data:`NO_TRUTH`, the table's row count as ``n_samples``, and blank
``accuracy_solution`` and ``symbolic_solution``: those are ground-truth
metrics.  Rows of a method without a formula (``linear``, ``gbr``) have a
test R² and a blank ``model``, ``complexity`` and ``symbolic_solution``.

Examples
--------
>>> from symdescent.bench.problems import load_suite
>>> from symdescent.bench.methods import resolve_methods
>>> runs = plan_runs(resolve_methods("symdescent,pyoperon"), load_suite("feynman")[:3], seeds=[0], noises=[0.0])
>>> len(runs), runs[0].key
(6, ('symdescent', 'I.6.2a', 0, '0.0'))
"""

from __future__ import annotations

import csv
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from symdescent import cluster
from symdescent.errors import DataError

COLUMNS = ("method", "problem", "seed", "noise", "status", "r2_test", "r2_train", "accuracy_solution",
           "symbolic_solution", "complexity", "time_s", "budget_s", "n_samples", "simplify_timed_out",
           "model", "model_simplified", "truth", "message")
MAX_MODEL_CHARS = 4000
#: The ``truth`` of every row of a real table: there is none, and the report tells the black-box track by it.
NO_TRUTH = "(black-box)"
#: Each worker runs one task at a time with one thread; libraries must not fan out either (one home: cluster).
THREAD_ENV = cluster.THREAD_ENV


@dataclass(frozen=True)
class RunSettings:
    """What every run of a benchmark shares.

    Attributes
    ----------
    budget : float
        Wall-clock seconds per run, the same for every method.
    n_samples : int
        Rows generated per problem before the 75/25 split (formulas only: a
        real table uses all its rows).
    simplify_timeout : float
        Seconds allowed to the symbolic check of one model.
    """

    budget: float = 60.0
    n_samples: int = 1000
    simplify_timeout: float = 20.0


@dataclass(frozen=True, eq=False)
class Run:
    """One (method, problem, seed, noise) of the plan."""

    method: object
    problem: object
    seed: int
    noise: float

    @property
    def key(self) -> tuple:
        return run_key(self.method.label, self.problem.id, self.seed, self.noise)


def run_key(method: str, problem: str, seed, noise) -> tuple:
    """The identity of a row: ``(method, problem, seed, noise)`` normalised for comparison."""
    return (str(method), str(problem), int(float(seed)), repr(float(noise)))


def plan_runs(methods: Sequence, problems: Sequence, seeds: Iterable[int], noises: Iterable[float]) -> list[Run]:
    """Every run, ordered so that early rows cover every method and problem."""
    return [Run(m, p, int(s), float(n)) for s in seeds for n in noises for p in problems for m in methods]


def format_cell(value) -> str:
    """A value as a results CSV holds it: a float by its repr (it reads back exactly), None as empty."""
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else str(value)


def is_table(problem) -> bool:
    """True for a real table (black-box track), False for a formula."""
    from symdescent.bench.tables import TableProblem

    return isinstance(problem, TableProblem)


def samples_of(problem, settings: RunSettings) -> int:
    """The rows a run of ``problem`` splits: all of a table's, ``settings.n_samples`` of a formula's."""
    return int(problem.X.shape[0]) if is_table(problem) else settings.n_samples


def _base_row(run: Run, settings: RunSettings) -> dict:
    row = {"method": run.method.label, "problem": run.problem.id, "seed": run.seed, "noise": run.noise,
           "budget_s": settings.budget, "n_samples": samples_of(run.problem, settings)}
    return {**row, "truth": NO_TRUTH} if is_table(run.problem) else row


def unavailable_row(run: Run, settings: RunSettings, reason: str) -> dict:
    return {**_base_row(run, settings), "status": "unavailable", "message": reason}


def execute_run(run: Run, settings: RunSettings) -> dict:
    """Generate the data, fit the method, compute the metrics: one CSV row (never raises).

    This is the function a Dask worker executes.
    """
    from symdescent.bench.data import make_dataset
    from symdescent.bench.metrics import accuracy_solution, r2_score, symbolic_columns

    row = _base_row(run, settings)
    try:
        data = make_dataset(run.problem, run.seed, run.noise, settings.n_samples)
        method = run.method.for_problem(run.problem)
        method.warm_up()
        start = time.monotonic()
        fitted = method.fit(data.X_train, data.y_train, data.names, settings.budget, run.seed)
        row["time_s"] = round(time.monotonic() - start, 3)
        r2 = r2_score(data.y_test, fitted.predict(data.X_test))
        row.update(status="ok", r2_test=r2, r2_train=r2_score(data.y_train, fitted.predict(data.X_train)))
    except Exception as exc:  # one broken run must not stop the benchmark
        row.update(status="error", message=f"{type(exc).__name__}: {exc}"[:MAX_MODEL_CHARS])
        return row
    truth = run.problem.truth_sympy()
    if truth is not None:
        row.update(truth=str(truth), accuracy_solution=accuracy_solution(r2))
    if fitted.expression is None:  # no formula: nothing to simplify, count or compare
        return row
    row["model"] = str(fitted.expression)[:MAX_MODEL_CHARS]
    row.update(symbolic_columns(fitted.expression, truth, settings.simplify_timeout,
                                accurate=bool(row.get("accuracy_solution")), max_chars=MAX_MODEL_CHARS))
    return row


class ResultsFile:
    """A results CSV with a fixed header: read on resume, appended to (and flushed) row by row.

    By default the bench's file (:data:`COLUMNS`).  Another experiment keeps
    its rows the same way with its own ``columns``, ``kind`` (the name a file
    with another header is refused under), ``error`` (the exception raised for
    it) and ``cell`` (a value to its text); the LEE ablation does.
    """

    def __init__(self, path: str | Path, *, columns: Sequence[str] = COLUMNS,
                 kind: str = "symdescent bench results file", error: type[Exception] = DataError,
                 cell: Callable[[object], str] = format_cell):
        self.path = Path(path)
        self.columns, self.kind, self.error, self.cell = tuple(columns), kind, error, cell

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if tuple(reader.fieldnames or ()) != self.columns:
                raise self.error(f"{self.path} is not a {self.kind} (columns differ); choose another --out")
            return list(reader)

    def write_all(self, rows: Iterable[dict]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, self.columns)
            writer.writeheader()
            writer.writerows({k: self.cell(r.get(k)) for k in self.columns} for r in rows)
        os.replace(tmp, self.path)

    def append(self, row: dict) -> None:
        new = not self.path.is_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, self.columns)
            if new:
                writer.writeheader()
            writer.writerow({k: self.cell(row.get(k)) for k in self.columns})
            fh.flush()

    def keep_finished(self, key: Callable[[dict], tuple], redo: Callable[[dict], bool],
                      check: Callable[[dict], None]) -> set[tuple]:
        """The keys of the rows kept for a resumed run; the file is rewritten without the others.

        A row is dropped when ``redo(row)`` or when an earlier row has its
        ``key(row)``; ``check(row)`` raises for a kept row that the resumed
        run must not be mixed with.
        """
        rows = self.read()
        keep, done = [], set()
        for r in rows:
            k = key(r)
            if redo(r) or k in done:
                continue
            check(r)
            keep.append(r)
            done.add(k)
        if len(keep) != len(rows):
            self.write_all(keep)
        return done

    def resume(self, settings: RunSettings, retry_errors: bool = False,
               samples: dict[str, int] | None = None) -> set[tuple]:
        """Keys of the finished rows; drops the rows to redo (unavailable, and errors if asked).

        ``samples`` maps a problem id to the rows its runs split where that
        is not ``settings.n_samples`` (a real table: all its rows).

        Raises
        ------
        DataError
            When the finished rows were made with another budget or sample
            count: mixing them would make the comparison meaningless.
        """
        samples = samples or {}

        def check(r: dict) -> None:
            expected = samples.get(r["problem"], settings.n_samples)
            if float(r["budget_s"]) != settings.budget or int(r["n_samples"]) != expected:
                raise DataError(f"{self.path} holds runs with budget {r['budget_s']} s and {r['n_samples']} samples, "
                                f"not {settings.budget} s and {expected}; use another --out to compare")

        return self.keep_finished(
            key=lambda r: run_key(r["method"], r["problem"], r["seed"], r["noise"]),
            redo=lambda r: r["status"] == "unavailable" or (retry_errors and r["status"] == "error"),
            check=check)


@dataclass
class Outcome:
    """What :func:`run_benchmark` did."""

    planned: int = 0
    skipped: int = 0
    finished: int = 0
    unavailable: int = 0
    interrupted: bool = False


def default_workers() -> int:
    """One worker per core this process may use."""
    return cluster.local_workers("auto")


def open_client(scheduler: str | None = None, workers: int | None = None):
    """A Dask client: to ``scheduler`` if given, else to a new single-threaded-worker ``LocalCluster``."""
    from distributed import Client

    if scheduler:
        return Client(scheduler)
    return cluster.local_client(workers or default_workers())


def run_benchmark(runs: Sequence[Run], settings: RunSettings, results: ResultsFile, *, scheduler: str | None = None,
                  workers: int | None = None, client=None, retry_errors: bool = False, progress=None) -> Outcome:
    """Run what is not yet in ``results`` on Dask, appending each row as it finishes.

    Parameters
    ----------
    runs : sequence of Run
        The plan (see :func:`plan_runs`).
    settings : RunSettings
    results : ResultsFile
    scheduler : str, optional
        Address of an existing Dask scheduler.
    workers : int, optional
        Worker processes of the local cluster (default: one per core).
    client : distributed.Client, optional
        Use this client (and leave it open) instead of making one.
    retry_errors : bool
        Run again the runs whose rows are errors.
    progress : callable, optional
        ``progress(event, row, counts)`` after each row; ``event`` is ``"row"``
        or ``"start"``; ``counts`` is ``dict(done, running, left, total)``.
    """
    from distributed import as_completed

    out = Outcome(planned=len(runs))
    tables = {r.problem.id: samples_of(r.problem, settings) for r in runs if is_table(r.problem)}
    done = results.resume(settings, retry_errors, tables)
    pending = [r for r in runs if r.key not in done]
    out.skipped = len(runs) - len(pending)
    reasons = {}
    for r in pending:
        if r.method.label not in reasons:
            reasons[r.method.label] = r.method.unavailable_reason()
    todo = [r for r in pending if not reasons[r.method.label]]
    counts = {"done": 0, "running": 0, "left": len(pending), "total": len(pending)}
    notify = progress or (lambda event, row, counts: None)
    notify("start", None, dict(counts))
    for r in pending:
        if reasons[r.method.label]:
            row = unavailable_row(r, settings, reasons[r.method.label])
            results.append(row)
            out.unavailable += 1
            counts.update(done=counts["done"] + 1, left=counts["left"] - 1)
            notify("row", row, dict(counts))
    if not todo:
        return out
    own = client is None
    client = client or open_client(scheduler, workers)
    futures = {}
    try:
        slots = max(1, sum(client.nthreads().values()))
        for r in todo:
            key = f"bench-{r.method.label}-{r.problem.id}-s{r.seed}-n{r.noise}-{uuid.uuid4().hex[:8]}"
            futures[client.submit(execute_run, r, settings, key=key, pure=False)] = r
        counts["running"] = min(slots, len(todo))
        notify("start", None, dict(counts))
        for fut in as_completed(list(futures)):
            run = futures[fut]
            try:
                row = fut.result()
            except Exception as exc:  # the worker died (memory, a crash in native code)
                row = {**_base_row(run, settings), "status": "error", "message": f"{type(exc).__name__}: {exc}"}
            results.append(row)
            out.finished += 1
            left = counts["left"] - 1
            counts.update(done=counts["done"] + 1, left=left, running=min(slots, left))
            notify("row", row, dict(counts))
    except KeyboardInterrupt:
        out.interrupted = True
        # Closing our own cluster kills the runs in flight; on a shared one, cancel ours.
        logging.getLogger("distributed").setLevel(logging.ERROR)
        if not own:
            client.cancel(list(futures))
    finally:
        if own:
            cluster.close_client(client)
    return out
