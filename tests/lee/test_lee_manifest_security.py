"""A hostile LEE model folder: manifest entries that escape the folder, and malformed manifests.

Every case copies the shipped model into ``tmp_path`` and tampers with the copy.  The runtime must refuse
each one with a :class:`PluginError` naming the manifest entry at fault, without opening (let alone hashing
or running) any file outside the model folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from symdescent.errors import PluginError  # noqa: E402
from symdescent_lee.plugin import default_model_dir  # noqa: E402
from symdescent_lee.runtime import LeeRuntime  # noqa: E402

# -- watching what is opened -------------------------------------------------------------------

_WATCHED: list[tuple[str, list]] = []  # (folder, opened paths) while a test runs


def _audit(event, args):
    # an audit hook cannot be removed, so it stays installed and records only while a test watches
    if event == "open" and _WATCHED and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        for folder, seen in _WATCHED:
            if os.path.realpath(path).startswith(folder):
                seen.append(path)


sys.addaudithook(_audit)


@pytest.fixture
def model(tmp_path):
    """A copy of the shipped model (``tmp_path/model``) and a folder outside it holding its own files."""
    dst = tmp_path / "model"
    shutil.copytree(default_model_dir(), dst)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(dst / "encoder.onnx", outside / "evil.onnx")  # a working graph: loading it would run it
    (outside / "secret.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (outside / "manifest.json").write_text((dst / "manifest.json").read_text())
    seen: list = []
    _WATCHED.append((os.path.realpath(outside), seen))
    yield dst, outside, seen
    _WATCHED.pop()


def _edit(d: Path, fn) -> None:
    m = json.loads((d / "manifest.json").read_text())
    fn(m)
    (d / "manifest.json").write_text(json.dumps(m))


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _point_encoder_at(target: str, digest: str | None):
    """Let graphs.encoder.file name ``target`` and give it a matching SHA-256 (an attacker writes both)."""
    def fn(m):
        m["graphs"]["encoder"]["file"] = target
        if digest is not None:
            m["sha256"][target] = digest
    return fn


# -- entries that leave the folder -----------------------------------------------------------

def _dotdot_passwd(d, out):
    _edit(d, _point_encoder_at("../../../../../../../../etc/passwd", None))


def _absolute_passwd(d, out):
    _edit(d, _point_encoder_at("/etc/passwd", None))


def _absolute_outside_onnx(d, out):
    _edit(d, _point_encoder_at(str(out / "evil.onnx"), _sha(out / "evil.onnx")))


def _dotdot_outside_onnx(d, out):
    _edit(d, _point_encoder_at("../outside/evil.onnx", _sha(out / "evil.onnx")))


def _dotdot_inside(d, out):  # stays inside after normalising, but a manifest never needs ".."
    (d / "sub").mkdir()
    _edit(d, _point_encoder_at("sub/../encoder.onnx", _sha(d / "encoder.onnx")))


def _symlink_file_outside(d, out):  # identical bytes, so the SHA-256 in the manifest matches
    (d / "encoder.onnx").unlink()
    (d / "encoder.onnx").symlink_to(out / "evil.onnx")


def _symlink_file_secret(d, out):
    (d / "encoder.onnx").unlink()
    (d / "encoder.onnx").symlink_to(out / "secret.txt")


def _symlink_folder_outside(d, out):
    (d / "sub").symlink_to(out)
    _edit(d, _point_encoder_at("sub/evil.onnx", _sha(out / "evil.onnx")))


def _symlink_manifest(d, out):
    (d / "manifest.json").unlink()
    (d / "manifest.json").symlink_to(out / "manifest.json")


def _empty_name(d, out):
    _edit(d, _point_encoder_at("", None))


def _folder_itself(d, out):
    _edit(d, _point_encoder_at(".", None))


def _nul_byte(d, out):
    _edit(d, _point_encoder_at("encoder.onnx\x00.txt", None))


ESCAPES = {
    "dotdot-passwd": (_dotdot_passwd, "graphs.encoder.file"),
    "absolute-passwd": (_absolute_passwd, "graphs.encoder.file"),
    "absolute-outside-onnx-with-hash": (_absolute_outside_onnx, "graphs.encoder.file"),
    "dotdot-outside-onnx-with-hash": (_dotdot_outside_onnx, "graphs.encoder.file"),
    "dotdot-back-inside": (_dotdot_inside, "graphs.encoder.file"),
    "symlink-file-to-outside-onnx": (_symlink_file_outside, "graphs.encoder.file"),
    "symlink-file-to-secret": (_symlink_file_secret, "graphs.encoder.file"),
    "symlink-folder-to-outside": (_symlink_folder_outside, "graphs.encoder.file"),
    "symlink-manifest-to-outside": (_symlink_manifest, "manifest.json"),
    "empty-name": (_empty_name, "graphs.encoder.file"),
    "the-folder-itself": (_folder_itself, "graphs.encoder.file"),
    "nul-byte": (_nul_byte, "graphs.encoder.file"),
}


@pytest.mark.parametrize("case", list(ESCAPES))
def test_entries_outside_the_folder_are_refused_unopened(model, case):
    d, out, seen = model
    tamper, field = ESCAPES[case]
    tamper(d, out)
    seen.clear()  # the tampering itself read the outside files; only the runtime's opens count
    with pytest.raises(PluginError, match=field) as err:
        LeeRuntime.load(d)
    assert seen == [], f"opened outside the model folder: {seen}"
    msg = str(err.value)
    for f in out.iterdir():
        assert _sha(f)[:16] not in msg  # no digest of a file outside
    assert "root:x" not in msg


# -- malformed manifests ---------------------------------------------------------------------

def _raw(text: str):
    def fn(d, out):
        (d / "manifest.json").write_text(text)
    return fn


def _set(fn):
    def tamper(d, out):
        _edit(d, fn)
    return tamper


def _delete(m, *path):
    for k in path[:-1]:
        m = m[k]
    del m[path[-1]]


def _put(m, value, *path):
    for k in path[:-1]:
        m = m[k]
    m[path[-1]] = value


MALFORMED = {
    "top-level-list": (_raw("[1, 2, 3]"), "not a LEE export manifest"),
    "top-level-string": (_raw('"symdescent-lee-onnx"'), "not a LEE export manifest"),
    "wrong-json": (_raw('{"format": "symdescent-lee-onnx", '), "not valid JSON"),
    "not-utf8": (lambda d, out: (d / "manifest.json").write_bytes(b"\xff\xfe{\x00"), "manifest.json"),
    "nested-100000-deep": (_raw("[" * 100_000 + "]" * 100_000), "manifest.json"),
    "format-version-string": (_set(lambda m: _put(m, "1", "format_version")), "format version"),
    "missing-shapes": (_set(lambda m: _delete(m, "shapes")), "'shapes'"),
    "shapes-a-list": (_set(lambda m: _put(m, [4, 128], "shapes")), "'shapes'"),
    "shapes-missing-key": (_set(lambda m: _delete(m, "shapes", "head_dim")), "shapes.head_dim"),
    "shapes-not-a-number": (_set(lambda m: _put(m, "abc", "shapes", "d_model")), "shapes.d_model"),
    "shapes-negative": (_set(lambda m: _put(m, -3, "shapes", "decoder_layers")), "shapes.decoder_layers"),
    "max-len-abc": (_set(lambda m: _put(m, "abc", "max_len")), "max_len"),
    "max-len-null": (_set(lambda m: _put(m, None, "max_len")), "max_len"),
    "vocabulary-a-string": (_set(lambda m: _put(m, "abc", "vocabulary")), "vocabulary"),
    "vocabulary-a-dict": (_set(lambda m: _put(m, {"a": 1}, "vocabulary")), "vocabulary"),
    "vocabulary-numbers": (_set(lambda m: _put(m, list(range(37)), "vocabulary")), "vocabulary"),
    "encoding-a-list": (_set(lambda m: _put(m, [10, 4], "encoding")), "'encoding'"),
    "graphs-a-list": (_set(lambda m: _put(m, ["encoder.onnx"], "graphs")), "'graphs'"),
    "graph-a-string": (_set(lambda m: _put(m, "encoder.onnx", "graphs", "encoder")), "graphs.encoder"),
    "graph-missing": (_set(lambda m: _delete(m, "graphs", "fit_grad")), "fit_grad"),
    "file-null": (_set(lambda m: _put(m, None, "graphs", "decoder_step", "file")), "graphs.decoder_step.file"),
    "file-a-number": (_set(lambda m: _put(m, 7, "graphs", "evaluate", "file")), "graphs.evaluate.file"),
    "file-missing": (_set(lambda m: _delete(m, "graphs", "evaluate", "file")), "graphs.evaluate.file"),
    "inputs-a-string": (_set(lambda m: _put(m, "points", "graphs", "encoder", "inputs")), "graphs.encoder.inputs"),
    "input-without-name": (_set(lambda m: _put(m, [{"dtype": "float32"}], "graphs", "encoder", "inputs")),
                           r"graphs.encoder.inputs\[0\].name"),
    "outputs-null": (_set(lambda m: _put(m, None, "graphs", "fit_grad", "outputs")), "graphs.fit_grad.outputs"),
    "sha256-a-list": (_set(lambda m: _put(m, [], "sha256")), "'sha256'"),
    "sha256-null-digest": (_set(lambda m: _put(m, None, "sha256", "encoder.onnx")), "sha256.encoder.onnx"),
    "sha256-missing-digest": (_set(lambda m: _delete(m, "sha256", "encoder.onnx")), "sha256.encoder.onnx"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_manifest_is_a_plugin_error_naming_the_field(model, case):
    d, out, seen = model
    tamper, field = MALFORMED[case]
    tamper(d, out)
    with pytest.raises(PluginError, match=field):
        LeeRuntime.load(d)


def test_an_untampered_copy_still_loads(model):
    d, out, seen = model
    rt = LeeRuntime.load(d)
    assert rt.n_layers == 3 and seen == []


@pytest.mark.parametrize("location", ["../outside/secret.bin", "sub/secret.bin", "secret.bin"])
def test_onnx_external_data_is_refused(model, location, monkeypatch):
    """A graph whose weights live in an external file could read it from anywhere: such graphs are refused.

    The runtime hands onnxruntime the bytes it hashed, with no model path, so onnxruntime resolves no
    external data file at all (``sub`` is a symlink to outside; ``secret.bin`` also sits in the working
    directory).
    """
    pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    d, out, seen = model
    (out / "secret.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    (d / "sub").symlink_to(out)
    monkeypatch.chdir(out)
    w = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in {"location": location, "offset": "0", "length": "16"}.items():
        entry = w.external_data.add()
        entry.key, entry.value = k, v
    graph = helper.make_graph([helper.make_node("Add", ["points", "w"], ["z"])], "g",
                              [helper.make_tensor_value_info("points", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [4])], [w])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()
    (d / "encoder.onnx").write_bytes(data)
    _edit(d, lambda m: _put(m, hashlib.sha256(data).hexdigest(), "sha256", "encoder.onnx"))
    with pytest.raises(PluginError, match="encoder.onnx"):
        LeeRuntime.load(d)
