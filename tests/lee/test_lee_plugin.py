"""The lee proposer and refiner inside searches, on the shipped model."""

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from symdescent.errors import PluginError
from symdescent.registry import Registry
from symdescent.search import Search
from symdescent.testing import ProposerConformance, RefinerConformance
from symdescent_lee.plugin import LEE, default_model_dir

SMALL = {"first_samples": 16, "samples": 16, "beam_width": 4, "refine_candidates": 2, "refine_samples": 4,
         "refine_iterations": 1, "gradient_steps": 2, "max_points": 64}


def _data():
    X = np.random.default_rng(0).uniform(1, 3, size=(80, 2))
    return X, X[:, 0] * X[:, 1] ** 2


def test_shipped_model_is_listed_available():
    rows = {r["name"]: r for r in __import__("symdescent.registry", fromlist=["describe"]).describe(Registry.discover())}
    assert rows["lee"]["available"], rows["lee"]["reason"]
    assert set(rows["lee"]["roles"]) == {"proposer", "refiner"}
    manifest = json.loads((default_model_dir() / "manifest.json").read_text())
    assert manifest["training"]["samples"] > 0


def test_search_with_lee_proposer_and_refiner():
    X, y = _data()
    cfg = {"search": {"time_budget": None, "max_iterations": 2},
           "strategy": {"proposers": ["lee"], "refiners": ["lee"]}, "plugins": {"lee": SMALL}}
    s = Search(X, y, config=cfg)
    result = s.run()
    assert result.best is not None and result.best.origin == "lee"
    refiner = s.role("lee", "refiner")
    assert len(refiner.round_losses) == 2 and all(len(r) == 2 for r in refiner.round_losses)
    # each round keeps the best so far: the loss never goes up
    assert all(b <= a for r in refiner.round_losses for a, b in zip(r, r[1:]))


def test_first_call_is_the_large_one_shot_proposal():
    X, y = _data()
    cfg = {"search": {"time_budget": None, "max_iterations": 2}, "strategy": {"proposers": ["lee"], "refiners": []},
           "plugins": {"lee": {"first_samples": 48, "samples": 4, "beam_width": 0, "max_points": 64}}}
    s = Search(X, y, config=cfg)
    s.start()
    first, second = s.step(), s.step()
    s.close()
    assert 4 < len(first) <= 48  # unique skeletons of 48 samples
    assert 1 <= len(second) <= 4


def test_missing_model_names_the_file(tmp_path):
    X, y = _data()
    cfg = {"strategy": {"proposers": ["lee"]}, "plugins": {"lee": {"model": str(tmp_path)}}}
    with pytest.raises(PluginError, match="manifest.json"):
        Search(X, y, config=cfg).run()


def test_corrupt_model_names_the_file(tmp_path):
    dst = tmp_path / "lee"
    shutil.copytree(default_model_dir(), dst)
    data = bytearray((dst / "evaluate.onnx").read_bytes())
    data[-10] ^= 0xFF
    (dst / "evaluate.onnx").write_bytes(bytes(data))
    X, y = _data()
    cfg = {"strategy": {"proposers": ["lee"]}, "plugins": {"lee": {"model": str(dst)}}}
    with pytest.raises(PluginError, match="evaluate.onnx"):
        Search(X, y, config=cfg).run()


def test_search_runs_without_torch(tmp_path):
    code = textwrap.dedent("""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
        sys.meta_path.insert(0, Block())
        import numpy as np
        from symdescent.search import Search
        X = np.random.default_rng(0).uniform(1, 3, size=(60, 2))
        cfg = {"search": {"time_budget": None, "max_iterations": 1},
               "strategy": {"proposers": ["lee"], "refiners": ["lee"]},
               "plugins": {"lee": {"first_samples": 8, "samples": 8, "beam_width": 2, "refine_samples": 2,
                                       "refine_candidates": 2}}}
        r = Search(X, X[:, 0] * X[:, 1], config=cfg).run()
        assert r.best is not None
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


class TestLeeProposer(ProposerConformance):
    plugin = LEE
    plugin_config = SMALL


class TestLeeRefiner(RefinerConformance):
    plugin = LEE
    plugin_config = SMALL
