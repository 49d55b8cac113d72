"""The training command: exact resume and the cool-down (``--anneal-steps``), on a tiny model."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

torch = pytest.importorskip("torch")

from symdescent_lee.training.data import DataConfig  # noqa: E402
from symdescent_lee.training.model import ModelConfig  # noqa: E402
from symdescent_lee.training.train import TrainConfig, annealed_lr, load_checkpoint, lr_at, main  # noqa: E402

TINY = ModelConfig(d_model=32, n_heads=4, n_latent=3, point_hidden=32, token_layers=1, decoder_layers=2,
                   ff=64, eval_hidden=32)
CFG = TrainConfig(batch_size=4, lr=1e-3, warmup=2, valid_size=8, model=TINY,
                  data=DataConfig(n_points=16, n_query=8))


def _run(out, *extra):
    return main(["--out", str(out), "--threads", "1", "--log-every", "1", "--valid-every", "1000", *extra])


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "train.json"
    path.write_text(json.dumps(asdict(CFG)))
    return path


def _same_weights(a, b) -> bool:
    return all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_resume_continues_the_same_run_exactly(tmp_path, config_file):
    straight, split = tmp_path / "straight", tmp_path / "split"
    _run(straight, "--config", str(config_file), "--steps", "4")
    _run(split, "--config", str(config_file), "--steps", "2")
    first = load_checkpoint(split / "checkpoint.pt")
    assert first["step"] == 2 and not _same_weights(first, load_checkpoint(straight / "checkpoint.pt"))
    _run(split, "--resume", "--steps", "4")
    a, b = load_checkpoint(straight / "checkpoint.pt"), load_checkpoint(split / "checkpoint.pt")
    assert a["step"] == b["step"] == 4 and a["samples"] == b["samples"] == 16
    assert _same_weights(a, b)


def test_anneal_cools_down_to_zero_and_stops(tmp_path, config_file, capsys):
    main_run, cool = tmp_path / "main", tmp_path / "cool"
    _run(main_run, "--config", str(config_file), "--steps", "3")
    _run(cool, "--resume-from", str(main_run / "checkpoint.pt"), "--anneal-steps", "4", "--steps", "5")
    state = load_checkpoint(cool / "checkpoint.pt")
    assert state["step"] == 5 and state["anneal"] == {"start": 3, "steps": 4}
    # the main run is untouched and keeps its open-ended schedule
    assert load_checkpoint(main_run / "checkpoint.pt")["anneal"] is None
    # an interrupted cool-down resumes where it stopped and ends at its last step
    _run(cool, "--resume")
    state = load_checkpoint(cool / "checkpoint.pt")
    assert state["step"] == 7 and state["anneal"] == {"start": 3, "steps": 4}
    out = capsys.readouterr().out
    assert "cool-down: learning rate to 0 linearly from step 3 to step 7" in out
    # asking for a different cool-down on top of one is refused
    with pytest.raises(SystemExit, match="already annealing from step 3"):
        _run(cool, "--resume", "--anneal-steps", "10")
    with pytest.raises(SystemExit, match="positive number"):
        _run(cool, "--resume", "--anneal-steps", "0")


def test_annealed_rate():
    anneal = {"start": 10, "steps": 4}
    assert annealed_lr(9, CFG, anneal) == lr_at(9, CFG)
    assert annealed_lr(10, CFG, anneal) == lr_at(10, CFG)
    assert annealed_lr(12, CFG, anneal) == pytest.approx(0.5 * lr_at(12, CFG))
    assert annealed_lr(14, CFG, anneal) == 0.0
    assert annealed_lr(12, CFG, None) == lr_at(12, CFG)


def test_set_changes_the_data_mix_of_a_resumed_run_and_keeps_it(tmp_path, config_file, capsys):
    main_run, tuned = tmp_path / "main", tmp_path / "tuned"
    _run(main_run, "--config", str(config_file), "--steps", "2")
    _run(tuned, "--resume-from", str(main_run / "checkpoint.pt"), "--set", "data.p_dimensional=0.5",
         "--set", "lr=0.002", "--steps", "3", "--valid-every", "3")
    state = load_checkpoint(tuned / "checkpoint.pt")
    assert state["config"]["data"]["p_dimensional"] == 0.5 and state["config"]["lr"] == 0.002
    assert json.loads((tuned / "config.json").read_text())["data"]["p_dimensional"] == 0.5
    # validation: the plain distribution (comparable across runs) and the dimensional one
    assert [r.get("split", "valid") for r in state["history"]] == ["valid", "valid_dim"]
    assert "valid_dim rec_ce=" in capsys.readouterr().out
    assert load_checkpoint(main_run / "checkpoint.pt")["config"]["data"]["p_dimensional"] == 0.0
    _run(tuned, "--resume", "--steps", "4")  # the change stays with the run
    assert load_checkpoint(tuned / "checkpoint.pt")["config"]["data"]["p_dimensional"] == 0.5


@pytest.mark.parametrize("setting, message", [
    ("data.p_dimensionl=0.5", "did you mean 'data.p_dimensional'"),
    ("data.p_dimensional=2", "must be a probability"),
    ("data.p_dimensional=true", "expected a value like 0.0"),
    ("lr", "expected KEY=VALUE"),
    ("model.d_model=64", "the model's settings cannot change"),
])
def test_set_rejects_bad_settings_by_name(tmp_path, config_file, setting, message):
    with pytest.raises(SystemExit, match=message):
        _run(tmp_path / "run", "--config", str(config_file), "--set", setting, "--steps", "1")


def test_training_restores_the_callers_signal_handlers(tmp_path, config_file):
    import signal

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _run(tmp_path / "run", "--config", str(config_file), "--steps", "1")
    assert {s: signal.getsignal(s) for s in before} == before


def test_the_committed_checkpoint_resumes_with_this_code():
    """training/lee_checkpoint.pt (the compact checkpoint the README resumes from) loads as --resume-from loads
    it: the model its config builds takes every weight, the optimiser its float32 moments; nothing trains."""
    from pathlib import Path

    from symdescent_lee.training.train import build

    path = Path(__file__).resolve().parents[2] / "training" / "lee_checkpoint.pt"
    if not path.is_file() or path.stat().st_size < 1_000_000:  # absent, or a Git LFS pointer
        pytest.skip("the committed checkpoint is not checked out")
    state = load_checkpoint(path)
    assert state["compact"] and state["step"] > 0 and state["samples"] > 0
    model, opt = build(TrainConfig.from_dict(state["config"]), torch.device("cpu"))
    model.load_state_dict(state["model"])  # strict: every key, every shape
    opt.load_state_dict(state["optimizer"])
    moments = [v for s in opt.state_dict()["state"].values() for v in s.values() if torch.is_tensor(v) and v.dim()]
    assert moments and all(v.dtype == torch.float32 for v in moments)
