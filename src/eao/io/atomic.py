"""Atomic files: every output is written to a temporary file beside the target, then renamed
onto it, so that a reader (or a rerun after a killed job) never sees half a file.

`atomic_path` is the one implementation; the Parquet tables, checkpoints, JSON/CSV/TSV/Markdown
files, figures and rendered demo videos all go through it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # matplotlib is imported by the figure code only
    from matplotlib.figure import Figure


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a fresh temporary path beside `path`; rename it onto `path` when the block ends
    normally, remove it when the block raises (KeyboardInterrupt included).

    The name is hidden, `.<name>.<random>.tmp<suffix>`: `suffix` (e.g. ".mp4") is for a tool
    that picks its output format by extension. mkstemp in the target's folder makes the name
    unique, so concurrent writers of one target never share a temporary file (the last rename
    wins, whole), and the rename stays within one file system, where it is atomic.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{suffix}")
    try:
        # mkstemp makes the file 0600; outputs get what open() would give a new file, so a
        # group that shares the results folder can still read them. Best effort: a mount
        # that refuses chmod keeps 0600 rather than failing every write.
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """`atomic_path` for a folder of files a tool writes together (gensim writes two): yield a
    fresh hidden folder beside `path`, renamed onto `path` when the block ends normally and
    removed when it raises. rename() cannot replace a non-empty folder, so an old one is moved
    aside and removed first: the target is always absent or whole."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        with contextlib.suppress(OSError):  # mkdtemp makes it 0700: what mkdir would give
            os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if target.exists():
            old = Path(
                tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old")
            )
            os.replace(target, old / "x")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """open(path, mode, **kwargs), atomically: the file is closed, then renamed into place."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def save_figure(fig: Figure, path: str | os.PathLike, **kwargs: Any) -> None:
    """fig.savefig(path, **kwargs) atomically (matplotlib picks the format by the extension)."""
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, **kwargs)


def _umask() -> int:
    # os.umask can only be read by setting it, and setting it races with other threads that
    # create files; Linux shows it in /proc (since 4.7), so the swap is only a fallback.
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
