"""A script that starts a search at module level, outside ``if __name__ == "__main__":``, must not break.

Dask starts a local cluster's workers with ``spawn``, which runs the main script again in each: unguarded, every
worker would start the search (and a cluster) again, and the nannies fail with a deep traceback.  The default
(one island per core) then runs in one process and says why; an explicit ``workers > 1`` is a ConfigError.
"""

import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent('''
    from symdescent.cluster import unguarded_script

    def where():
        return unguarded_script()

    print("top", unguarded_script() is not None)
    print("function called at top", where() is not None)
    if __name__ == "__main__":
        print("guarded", unguarded_script() is not None)
        print("function called in the guard", where() is not None)
''')

FIT = textwrap.dedent('''
    import sys
    import warnings
    import numpy as np
    from symdescent import SymbolicRegressor
    from symdescent.errors import ConfigError

    X = np.random.default_rng(0).uniform(1, 5, size=(100, 2))
    n_jobs = None if sys.argv[1] == "default" else int(sys.argv[1])
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = SymbolicRegressor(max_iterations=1, time_budget=None, random_state=0, n_jobs=n_jobs)
            est.fit(X, X[:, 0] * X[:, 1])
    except ConfigError as exc:
        print("ConfigError:", exc)
    else:
        print("islands", len(est.result_.islands))
        print("warned", any("outside `if __name__" in str(w.message) for w in caught))
''')


def _run(tmp_path, source, *args):
    script = tmp_path / "user_script.py"
    script.write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "SYMDESCENT_WORKERS"}  # the default, as a user has it
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_the_guard_is_found_where_the_call_comes_from(tmp_path):
    out = _run(tmp_path, PROBE)
    assert out.split("\n")[:4] == ["top True", "function called at top True", "guarded False",
                                   "function called in the guard False"]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: the default is one process anyway")
def test_an_unguarded_script_runs_the_default_search_in_one_process_and_says_why(tmp_path):
    out = _run(tmp_path, FIT, "default")
    assert "islands 0" in out and "warned True" in out


def test_an_unguarded_script_asking_for_workers_gets_a_named_error(tmp_path):
    out = _run(tmp_path, FIT, "2")
    assert "ConfigError: search.workers = 2:" in out and 'if __name__ == "__main__":' in out
