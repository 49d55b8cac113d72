"""Writing output files safely: checked before the work, replaced atomically.

``check_writable`` tells, before a long search, whether a path can take the
result (its folder exists, is a folder and accepts a new file; the path is
not a folder).  ``write_atomic`` (text or bytes, such as an image;
``write_text_atomic`` for text) writes a temporary file in the same folder
and renames it over the target with ``os.replace``, so a reader (or a second
run writing the same path) sees the old file or the new one, never a
half-written one.  Special files that exist (``/dev/stdout``, a named pipe)
are written in place: they cannot be replaced by a rename; so is an existing,
writable file in a folder where no new file can be made.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from symdescent.errors import OutputError


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _special(path: Path) -> bool:
    """True for an existing target that is not a regular file (a device, a pipe)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_writable(path: str | os.PathLike, what: str = "output file") -> Path:
    """Raise :class:`~symdescent.errors.OutputError` unless ``path`` can be written.

    The check creates (and removes) a temporary file next to the target, which
    is what :func:`write_text_atomic` will need; it returns the path to write.
    """
    shown = os.fspath(path)
    if _special(Path(shown)):  # /dev/stdout (a pipe, a terminal), /dev/null, a FIFO: written in place
        if not os.access(shown, os.W_OK):
            raise OutputError(f"cannot write {what} {shown}: it is not writable")
        return Path(shown)
    target = Path(os.path.realpath(shown))  # a symlink's target is replaced, not the link
    if target.is_dir():
        raise OutputError(f"{what} {shown} is a folder; give a file name, e.g. {Path(shown) / 'result.json'}")
    parent = target.parent
    if not parent.exists():
        raise OutputError(f"cannot write {what} {shown}: its folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"cannot write {what} {shown}: {parent} is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {what} {shown}: the file exists and is read-only")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        if target.is_file() and os.access(target, os.W_OK):
            return target  # a writable file in a folder that takes no new file: written in place
        raise OutputError(f"cannot write {what} {shown}: {_reason(exc)} (in folder {parent})") from None
    os.close(fd)
    os.unlink(tmp)
    return target


def _write_in_place(target: Path, data: str | bytes, what: str, shown: str) -> Path:
    try:
        with _open(target, data) as fh:
            fh.write(data)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {shown}: {_reason(exc)}") from None
    return target


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open(target, data: str | bytes):
    """``target`` (a path or a file descriptor) opened for writing ``data``: bytes as they are, text as UTF-8."""
    if isinstance(data, bytes):
        return open(target, "wb")
    return open(target, "w", encoding="utf-8")


def write_text_atomic(path: str | os.PathLike, text: str, what: str = "output file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_atomic`."""
    return write_atomic(path, text, what)


def write_atomic(path: str | os.PathLike, data: str | bytes, what: str = "output file") -> Path:
    """Write ``data`` (text as UTF-8, or bytes: an image) to ``path`` atomically (temporary file in the same
    folder, then ``os.replace``).

    An existing file keeps its permission bits; a new one gets the usual
    ``0o666 & ~umask``.  Raises :class:`~symdescent.errors.OutputError`
    naming the path when it cannot be written.
    """
    target = check_writable(path, what)
    shown = os.fspath(path)
    if _special(target):
        return _write_in_place(target, data, what, shown)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    tmp = None
    try:
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except PermissionError:
            if target.is_file() and os.access(target, os.W_OK):  # see check_writable
                return _write_in_place(target, data, what, shown)
            raise
        with _open(fd, data) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise OutputError(f"cannot write {what} {shown}: {_reason(exc)}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target
