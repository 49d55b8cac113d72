"""Dask clusters for one search: how many workers, a client to a scheduler or to a local cluster, and its close.

The island search (:mod:`symdescent.islands`) runs on what this module opens;
the benchmark's runner (:mod:`symdescent.bench.runner`) uses the same local
clusters.  Nothing here imports Dask until a client is opened, so deciding that
a search runs in one process (:func:`uses_islands`) costs no Dask import.

Examples
--------
>>> local_workers(3)
3
>>> uses_islands(SearchConfig(workers=1))
False
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import inspect
import multiprocessing
import os
import signal
import sys
import threading
import tokenize
import warnings
from typing import Any

from symdescent.config import SearchConfig, environment_workers
from symdescent.errors import ConfigError

#: one thread per worker process: BLAS, OpenMP and Julia must not oversubscribe the cores the islands share
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1", "JULIA_NUM_THREADS": "1"}


#: how long to try to reach a ``search.scheduler`` before saying it cannot be reached
CONNECT_TIMEOUT = "10s"


def local_workers(workers: int | str | None) -> int:
    """Worker processes for ``search.workers``: None (left out) follows ``SYMDESCENT_WORKERS``, else ``"auto"``;
    0 and ``"auto"`` mean one per core this process may use (1 in a daemonic process, which may not start any).

    >>> local_workers(3)
    3
    """
    if workers is None:
        workers = environment_workers()
    if workers in (0, "auto"):
        if multiprocessing.current_process().daemon:  # a Dask worker's or a Pool's: no processes of its own
            return 1
        try:
            cores = max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not on Linux
            cores = max(1, os.cpu_count() or 1)
        if cores > 1 and (script := unguarded_script()) is not None:
            _warn_once(script, f"symdescent runs this search in one process: {script} starts it at module level, "
                               "outside `if __name__ == \"__main__\":`, and each worker process Dask starts would "
                               f"run that script again; put the code under that guard to use all {cores} cores")
            return 1
        return cores
    n = int(workers)
    if n > 1 and (script := unguarded_script()) is not None:
        raise ConfigError(f"search.workers = {n}: {script} starts the search at module level, outside `if __name__ "
                          "== \"__main__\":`, and each worker process Dask starts would run that script again; put "
                          "the code under that guard (or use workers = 1)")
    return n


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def unguarded_script() -> str | None:
    """The main script's path when this call comes from its module level outside ``if __name__ == "__main__":``.

    A local cluster's worker processes are started with ``spawn``, which
    imports the main script again in each of them: a script that starts a
    search at module level, unguarded, would start it (and a cluster) again in
    every worker.  None where that cannot happen: no main script (a notebook,
    ``python -c``, an interactive session), a call from inside the guard, or
    a main module whose source cannot be read.

    >>> unguarded_script() is None  # the doctest runner's main module calls nothing at module level
    True
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or not str(path).endswith(".py"):
        return None
    frame = inspect.currentframe()
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:  # not called from the main module's code
        return None
    line = frame.f_lineno
    try:
        guards = _main_guards(str(path), os.stat(path).st_mtime_ns)
    except OSError:
        return None
    if guards is None or any(start <= line <= end for start, end in guards):
        return None
    return str(path)


@functools.lru_cache(maxsize=8)
def _main_guards(path: str, mtime_ns: int) -> tuple[tuple[int, int], ...] | None:
    """The line ranges of the ``if __name__ == "__main__":`` blocks of the script ``path`` (read once per
    version of the file: a fit asks several times); None when it cannot be read or parsed."""
    try:
        with tokenize.open(path) as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return None
    return tuple((node.lineno, node.end_lineno) for node in ast.walk(tree)
                 if isinstance(node, ast.If) and _is_main_guard(node.test))


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = {type(test.left), type(test.comparators[0])}
    names = [n.id for n in (test.left, test.comparators[0]) if isinstance(n, ast.Name)]
    values = [n.value for n in (test.left, test.comparators[0]) if isinstance(n, ast.Constant)]
    return sides == {ast.Name, ast.Constant} and names == ["__name__"] and values == ["__main__"]


def uses_islands(config: SearchConfig, client: Any = None) -> bool:
    """Whether a search runs as islands: a client or a scheduler is given, or more than one worker.

    >>> uses_islands(SearchConfig(workers=1))
    False
    >>> uses_islands(SearchConfig(workers=2))
    True
    """
    return client is not None or config.scheduler is not None or local_workers(config.workers) > 1


@contextlib.contextmanager
def sigint_ignored():
    """Ignore Ctrl-C while worker processes are spawned (main thread only).

    They inherit it, so Ctrl-C at a terminal, which reaches the whole process
    group, stops the search through the caller alone, which halts the islands
    and shuts the cluster down in order.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def open_client(config: SearchConfig):
    """A Dask client to ``config.scheduler``, or to a new ``LocalCluster`` of single-threaded worker processes.

    Raises
    ------
    ConfigError
        When the scheduler cannot be reached.
    """
    from distributed import Client

    if config.scheduler is not None:
        try:
            return Client(config.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"search.scheduler: cannot reach the Dask scheduler at {config.scheduler}: {exc} "
                              "(start one with `dask scheduler` and workers with `dask worker ADDRESS`)") from None
    return local_client(local_workers(config.workers))


def local_client(n_workers: int):
    """A client to a new ``LocalCluster`` of ``n_workers`` single-threaded worker processes
    (they ignore Ctrl-C: the caller handles it; close it with :func:`close_client`)."""
    from distributed import Client, LocalCluster

    with sigint_ignored():
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, env=dict(THREAD_ENV))
    return Client(cluster)


#: the longest wait for the local workers to freeze their heaps before their cluster is closed
FREEZE_TIMEOUT_S = 2.0


def close_client(client) -> None:
    """Close a client made by :func:`open_client`, and its local cluster if it has one.

    A local cluster's workers first freeze their heaps (``gc.freeze``): a
    worker that held an island has hundreds of thousands of objects (the
    compiled kernels' types, sympy, the search), and the interpreter's exit
    collects them several times over, which took longer than the nanny's 4 s
    wait (it then kills the process) for 8 workers on two cores.  Frozen
    objects are left out of those collections, so the processes end within a
    fraction of a second.  A remote cluster's workers live on, and are left
    alone.
    """
    cluster = getattr(client, "cluster", None)
    if cluster is not None:
        with contextlib.suppress(Exception):  # a worker gone or stuck must not keep the others from closing
            client.run(gc.freeze, on_error="ignore", callback_timeout=FREEZE_TIMEOUT_S)
    client.close()
    if cluster is not None:
        cluster.close()


__all__ = ["THREAD_ENV", "CONNECT_TIMEOUT", "FREEZE_TIMEOUT_S", "local_workers", "uses_islands", "sigint_ignored",
           "open_client", "local_client", "close_client"]
