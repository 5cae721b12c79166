"""The one atomic writer (issue #15): unique hidden temporary files beside the target, renamed on
success, removed on any failure, with the permissions a plain open() gives."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from eao.io.atomic import atomic_open, atomic_path, save_figure, write_text_atomic


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_renames_onto_the_target_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "sub" / "out.json"
    with atomic_path(target) as tmp:
        name = Path(tmp).name
        assert Path(tmp).parent == target.parent
        assert name.startswith(".out.json.") and name.endswith(".tmp")  # test_kill's pattern
        assert not target.exists()
        Path(tmp).write_text("{}")
    assert target.read_text() == "{}"
    assert listing(target.parent) == ["out.json"]


def test_two_writers_of_one_target_do_not_collide(tmp_path):
    target = tmp_path / "out.txt"
    inside, release = threading.Barrier(2), threading.Event()
    temps: list[str] = []

    def writer(text: str) -> None:
        with atomic_path(target) as tmp:
            temps.append(tmp)
            Path(tmp).write_text(text * 1000)
            inside.wait(timeout=30)  # both temporary files exist at once
            release.wait(timeout=30)

    threads = [threading.Thread(target=writer, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert len(set(temps)) == 2
    assert target.read_text() in ("a" * 1000, "b" * 1000)  # one writer's whole file
    assert listing(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_failure_keeps_the_old_target_and_removes_the_temporary(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(error), atomic_open(target) as f:
        f.write("half a new fi")
        raise error
    assert target.read_text() == "old"
    assert listing(tmp_path) == ["out.txt"]


def test_a_failure_leaves_no_target(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"partial")
        raise RuntimeError("tool failed")
    assert listing(tmp_path) == []


def test_suffix_for_tools_that_pick_the_format_by_extension(tmp_path):
    with atomic_path(tmp_path / "v.mp4", suffix=".mp4") as tmp:
        assert Path(tmp).name.startswith(".v.mp4.") and tmp.endswith(".tmp.mp4")
        Path(tmp).write_bytes(b"x")
    assert listing(tmp_path) == ["v.mp4"]


def test_save_figure_writes_a_png_atomically(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    save_figure(fig, tmp_path / "f.png", dpi=20)
    plt.close(fig)
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert listing(tmp_path) == ["f.png"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_permissions_equal_a_plain_open(tmp_path, umask):
    old = os.umask(umask)
    try:
        (tmp_path / "plain.txt").write_text("x")
        write_text_atomic(tmp_path / "atomic.txt", "x")
    finally:
        os.umask(old)

    def mode(name: str) -> int:
        return stat.S_IMODE((tmp_path / name).stat().st_mode)

    assert mode("atomic.txt") == mode("plain.txt") == 0o666 & ~umask
