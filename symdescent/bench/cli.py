"""The ``symdescent bench`` sub-command.

::

    symdescent bench --suite feynman --limit 3 --budget 5 --methods symdescent,pyoperon \\
        [--noise 0,0.01] [--seeds 0,1] [--out bench_results/NAME] [--scheduler ADDR] [--workers N] [--samples 1000]
        [--paired A,B]

Writes ``results.csv`` (one row per method, problem, seed and noise level;
a rerun skips the rows already there), ``summary.md``, ``pareto.png`` and
``noise.png`` into ``--out``.  ``--suite blackbox`` (or a folder of CSV
tables) runs SRBench's black-box track on real tables: ``--seeds`` are the
split seeds; the summary is test R² and complexity (see
:mod:`symdescent.bench.tables`).  With exactly two methods (or the two that
``--paired A,B`` names) the summary also compares them run by run: solved by
both, by one only, by neither, and the sign test (:mod:`symdescent.bench.paired`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from symdescent.errors import ConfigError

DEFAULT_METHODS = "symdescent,pyoperon,gplearn,pysr"


def _ints(text: str, what: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            values = range(int(lo), int(hi) + 1) if sep and lo else [int(part)]
        except ValueError:
            raise ConfigError(f"{what}: expected integers like 0,1,2 or 0-4, got {part!r}") from None
        out += [v for v in values if v not in out]
    if not out or min(out) < 0:
        raise ConfigError(f"{what}: expected non-negative integers, got {text!r}")
    return out


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{what}: expected numbers like 0,0.01, got {text!r}") from None
    if not values or any(not 0 <= v < 10 for v in values):
        raise ConfigError(f"{what}: expected noise levels >= 0 (SRBench: 0, 0.001, 0.01, 0.1), got {text!r}")
    return list(dict.fromkeys(values))


def add_parser(subparsers) -> None:
    """Register ``bench`` on the ``symdescent`` command's sub-parsers."""
    p = subparsers.add_parser(
        "bench", help="benchmark symdescent and peers on formula suites (SRBench style, on Dask)",
        description="Run methods on generated data of ground-truth formulas; write results.csv, summary.md and plots.")
    p.add_argument("--suite", default="feynman",
                   help="'feynman', 'laws', 'dimsynth' or 'shapes' (formulas, built in), a CSV of formulas in the same format, "
                        "'blackbox' (real tables, built in) or a folder of CSV tables (see BENCHMARKS.md)")
    p.add_argument("--limit", type=int, help="only the first N problems")
    p.add_argument("--problems", help="comma-separated problem ids, e.g. I.6.2a,I.8.14")
    p.add_argument("--methods", default=DEFAULT_METHODS,
                   help="comma-separated: symdescent, symdescent:NAME|PATH.toml, pyoperon, gplearn, pysr, linear, gbr "
                        f"(default {DEFAULT_METHODS}); a symdescent spec ending in +units (symdescent+units) searches "
                        "with the problems' units (feynman has them)")
    p.add_argument("--budget", type=float, default=60.0, help="wall-clock seconds per run (default 60)")
    p.add_argument("--seeds", default="0", help="seeds of the data and split, e.g. 0,1,2 or 0-9 (default 0)")
    p.add_argument("--noise", default="0", help="target noise levels σ, e.g. 0,0.001,0.01,0.1 (default 0)")
    p.add_argument("--samples", type=int, default=1000,
                   help="rows generated per formula (default 1000; a table uses all its rows)")
    p.add_argument("--out", help="output folder (default bench_results/SUITE)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--simplify-timeout", type=float, default=20.0,
                   help="seconds for the symbolic check of one model (default 20)")
    p.add_argument("--paired", metavar="A,B",
                   help="two of the methods to compare run by run in the summary (default: the two methods, when "
                        "the run has exactly two)")
    p.add_argument("--retry-errors", action="store_true", help="run again the runs recorded as errors")
    p.add_argument("--report-only", action="store_true", help="only rewrite the summary and plots from results.csv")
    p.set_defaults(func=run)


def _check(args) -> None:
    if not args.budget > 0:
        raise ConfigError(f"--budget must be > 0 seconds, got {args.budget}")
    if args.samples < 8:
        raise ConfigError(f"--samples must be at least 8, got {args.samples}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if not args.simplify_timeout > 0:
        raise ConfigError(f"--simplify-timeout must be > 0, got {args.simplify_timeout}")


def _pair(args) -> list[str] | None:
    """``--paired A,B`` as a list of the two labels (None when not given)."""
    return None if args.paired is None else [s.strip() for s in args.paired.split(",")]


class _Display:
    """Rich progress: runs done, running and left, and one line per finished run."""

    def __init__(self, console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(TextColumn("[bold]bench[/]"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console)
        self.task = None

    def __call__(self, event, row, counts):
        if not counts["total"]:
            return
        status = f"running {counts['running']}, left {counts['left']}"
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("runs", total=counts["total"], status=status)
        self.progress.update(self.task, completed=counts["done"], status=status)
        if row is not None:
            self.console.print(_row_line(row))

    def stop(self):
        if self.task is not None:
            self.progress.stop()


def _row_line(row: dict) -> str:
    head = f"{row['method']} {row['problem']} seed {row['seed']} noise {row['noise']:g}"
    if row.get("status") != "ok":
        return f"[yellow]{head}: {row.get('status')}[/] {row.get('message', '')}"
    mark = {True: "[green]yes[/]", False: "no", None: "–"}  # –: the metric does not apply (no truth, no formula)
    complexity = row.get("complexity")
    return (f"{head}: R² {row['r2_test']:.6f}  accuracy {mark[row.get('accuracy_solution')]}  "
            f"symbolic {mark[row.get('symbolic_solution')]}  complexity {'–' if complexity is None else complexity}  "
            f"{row['time_s']:.1f} s")


def require_extra(report_only: bool = False) -> None:
    """Raise :class:`~symdescent.errors.DependencyError` naming the extra when what ``bench`` needs is missing.

    Runs need Dask's ``distributed`` and the plots ``matplotlib`` (both in the
    ``bench`` extra); the peer methods (pyoperon, gplearn) are optional per
    method and reported as unavailable rows instead.
    """
    import importlib

    needed = ("matplotlib",) if report_only else ("distributed", "matplotlib")
    missing = []
    for module in needed:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        from symdescent.errors import DependencyError

        raise DependencyError(f"symdescent bench needs the 'bench' extra ({', '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not installed): "
                              'pip install "symdescent[bench]"')


def run(args) -> int:
    """Execute ``symdescent bench``; returns the exit code."""
    from rich.console import Console
    from rich.markup import escape

    from symdescent.bench.methods import resolve_methods
    from symdescent.bench.paired import check_pair
    from symdescent.bench.problems import load_suite, select
    from symdescent.bench.report import write_report
    from symdescent.bench.runner import ResultsFile, RunSettings, plan_runs, run_benchmark

    _check(args)
    require_extra(report_only=args.report_only)
    out_dir = Path(args.out or Path("bench_results") / Path(args.suite).stem)
    results = ResultsFile(out_dir / "results.csv")
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    outcome = None
    if not args.report_only:
        problems = select(load_suite(args.suite), args.limit,
                          [s.strip() for s in args.problems.split(",") if s.strip()] if args.problems else None)
        methods = resolve_methods(args.methods)
        if args.paired is not None:  # before the runs rather than after them
            check_pair(_pair(args), [m.label for m in methods], "--methods")
        runs = plan_runs(methods, problems, _ints(args.seeds, "--seeds"), _floats(args.noise, "--noise"))
        settings = RunSettings(args.budget, args.samples, args.simplify_timeout)
        out_dir.mkdir(parents=True, exist_ok=True)
        console.print(f"{len(runs)} runs: {len(methods)} method(s) x {len(problems)} problem(s) x seeds {args.seeds} "
                      f"x noise {args.noise}, {args.budget:g} s each -> {escape(str(results.path))}")
        display = _Display(console)
        try:
            outcome = run_benchmark(runs, settings, results, scheduler=args.scheduler, workers=args.workers,
                                    retry_errors=args.retry_errors, progress=display)
        finally:
            display.stop()
        console.print(f"{outcome.skipped} run(s) already in {escape(str(results.path))} were skipped; "
                      f"{outcome.finished} finished, {outcome.unavailable} unavailable"
                      + ("; interrupted: the finished rows are on disk" if outcome.interrupted else ""))
    if not results.path.is_file():
        raise ConfigError(f"no results at {results.path}")
    report = write_report(results.path, paired=_pair(args))
    sys.stdout.write(report["markdown"])
    written = [report[k] for k in ("summary", "pareto", "noise", "pareto_blackbox") if k in report]
    console.print("wrote " + ", ".join(escape(str(p)) for p in [results.path, *written]))
    return 130 if outcome is not None and outcome.interrupted else 0
