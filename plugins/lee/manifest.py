"""Reading and validating a LEE export's ``manifest.json``: the one place its schema is checked.

A model folder may come from anywhere (a download, a colleague, a config file's ``model`` setting), so its
manifest is untrusted input.  :func:`read_manifest` checks every field the runtime relies on before any
other file is touched, and :func:`model_file` confines every file a manifest names to the model folder:
a name with ``..``, an absolute path, or a symlink (of the file or of a folder on its way) that resolves
outside the folder is refused before it is opened.  Without that, a manifest could make the runtime hash
any file on the machine, or load and run an ONNX graph from outside whose SHA-256 the attacker also wrote.
Every error is a :class:`~symdescent.errors.PluginError` that names the manifest entry at fault.

Examples
--------
>>> from symdescent_lee.plugin import default_model_dir
>>> m = read_manifest(default_model_dir())
>>> model_file(default_model_dir(), m["graphs"]["encoder"]["file"], "graphs.encoder.file").name
'encoder.onnx'
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath, PureWindowsPath

from symdescent.errors import PluginError
from symdescent_lee import encoding as enc
from symdescent_lee import vocab

FORMAT = "symdescent-lee-onnx"
SUPPORTED_VERSIONS = (1,)
GRAPHS = ("encoder", "decoder_init", "decoder_step", "evaluate", "fit_grad")
ENCODING_CONSTANTS = ("MAX_VARS", "SCALAR_FEATURES", "X_FEATURES", "Y_FEATURES", "CAND_FEATURES",
                      "POINT_FEATURES", "STD_CLIP")
SHAPES = ("n_latent", "d_model", "n_heads", "head_dim", "decoder_layers")
MAX_MANIFEST_BYTES = 16 << 20  # the shipped one is 8 kB; a bigger file is not a manifest


class _Bad(Exception):
    """A schema violation; ``read_manifest`` turns it into a PluginError with the manifest's path."""


def model_file(model_dir, name, entry: str) -> Path:
    """The path of the file ``name`` that manifest entry ``entry`` gives, confined to ``model_dir``.

    Raises :class:`PluginError` naming ``entry`` unless ``name`` is a plain relative name (no ``..``, not
    absolute, no NUL) that, with every symlink resolved, lies inside ``model_dir``.  Nothing is opened.
    """
    try:
        _plain_name(name, entry)
    except _Bad as exc:
        raise PluginError(f"LEE model: {exc}") from None
    root = Path(model_dir).resolve()
    path = (root / name).resolve()
    # resolve() follows every symlink, so a link to outside (of the file or of a folder) is seen here
    if path == root or not path.is_relative_to(root):
        raise PluginError(f"LEE model: {entry} {name!r} resolves outside the model folder {root} "
                          "(a symlink?); refused")
    return path


def _plain_name(name, entry: str) -> None:
    if not isinstance(name, str) or not name:
        raise _Bad(f"{entry} must be a non-empty file name, got {name!r}")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if not posix.parts:
        raise _Bad(f"{entry} {name!r} names the model folder itself, not a file in it")
    if "\x00" in name or posix.is_absolute() or windows.anchor or ".." in posix.parts or ".." in windows.parts:
        raise _Bad(f"{entry} {name!r} is not a file name inside the model folder (absolute paths and '..' "
                   "are refused)")


def read_manifest(model_dir) -> dict:
    """Read ``model_dir/manifest.json`` and check its schema; returns the manifest.

    Raises :class:`PluginError` naming the file, or the field (``shapes.d_model``,
    ``graphs.encoder.file``, ...) that is missing, has the wrong type, or does not match this package.
    Only the manifest is read; the graph files it names are checked with :func:`model_file`.
    """
    model_dir = Path(model_dir)
    mpath = model_dir / "manifest.json"
    if not mpath.is_file():
        raise PluginError(f"LEE model: {mpath} not found (export with `python -m symdescent_lee.training.export`)")
    path = model_file(model_dir, "manifest.json", "manifest.json")
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise PluginError(f"LEE model: {mpath} is over {MAX_MANIFEST_BYTES >> 20} MB: not a manifest")
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginError(f"LEE model: cannot read {mpath}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PluginError(f"LEE model: {mpath} is not valid JSON: {exc}") from None
    except RecursionError:
        raise PluginError(f"LEE model: {mpath} is not valid JSON: nested too deeply") from None
    try:
        _check(manifest)
    except _Bad as exc:
        raise PluginError(f"LEE model: {mpath}: {exc}") from None
    for g in GRAPHS:
        model_file(model_dir, manifest["graphs"][g]["file"], f"graphs.{g}.file")
    return manifest


def _field(m: dict, key: str, kind, where: str = ""):
    name = f"{where}.{key}" if where else key
    if key not in m:
        raise _Bad(f"missing key {name!r}")
    value = m[key]
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"{name} must be an integer, got {value!r}")
    elif not isinstance(value, kind):
        what = {dict: "JSON object", list: "list", str: "string"}[kind]
        raise _Bad(f"{name!r} must be a {what}, got {type(value).__name__}")
    return value


def _check(m) -> None:
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise _Bad(f"not a LEE export manifest (format {m.get('format') if isinstance(m, dict) else None!r})")
    version = m.get("format_version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise _Bad(f"format version {version!r} is not supported (supported: {SUPPORTED_VERSIONS})")
    theirs, ours = _field(m, "vocabulary", list), list(vocab.TOKENS)
    if theirs != ours:
        diff = next((i for i, (a, b) in enumerate(zip(theirs, ours)) if a != b), min(len(theirs), len(ours)))
        raise _Bad(f"vocabulary mismatch: the export has {len(theirs)} tokens, this symdescent_lee has "
                   f"{len(ours)}; first difference at index {diff}")
    if _field(m, "max_len", int) != vocab.MAX_LEN:
        raise _Bad(f"max_len mismatch (MAX_LEN): export {m['max_len']}, this package {vocab.MAX_LEN}")
    encoding = _field(m, "encoding", dict)
    for k in ENCODING_CONSTANTS:
        if encoding.get(k) != getattr(enc, k):
            raise _Bad(f"numeric encoding mismatch: encoding.{k} is {encoding.get(k)!r} in the export, "
                       f"{getattr(enc, k)!r} here")
    shapes = _field(m, "shapes", dict)
    for k in SHAPES:
        if _field(shapes, k, int, "shapes") <= 0:
            raise _Bad(f"shapes.{k} must be positive, got {shapes[k]}")
    graphs = _field(m, "graphs", dict)
    missing = [g for g in GRAPHS if g not in graphs]
    if missing:
        raise _Bad(f"graphs missing from the manifest: {', '.join(missing)}")
    hashes = _field(m, "sha256", dict)
    for g in GRAPHS:
        spec = graphs[g]
        if not isinstance(spec, dict):
            raise _Bad(f"graphs.{g} must be a JSON object, got {type(spec).__name__}")
        fname = _field(spec, "file", str, f"graphs.{g}")
        _plain_name(fname, f"graphs.{g}.file")
        for side in ("inputs", "outputs"):
            for i, io in enumerate(_field(spec, side, list, f"graphs.{g}")):
                if not isinstance(io, dict) or not isinstance(io.get("name"), str):
                    raise _Bad(f"graphs.{g}.{side}[{i}].name must be a string")
        digest = hashes.get(fname)
        if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            raise _Bad(f"sha256.{fname} (the SHA-256 of graphs.{g}.file) must be 64 lowercase hex digits, "
                       f"got {digest!r}")
