"""Progress output: a bar on a terminal, lines in logs, nothing when silenced."""

from __future__ import annotations

from eao.progress import mode, progress


def test_lines_when_not_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("EAO_PROGRESS", raising=False)
    monkeypatch.setenv("EAO_PROGRESS_EVERY", "0")
    assert mode() == "lines"  # pytest's stderr is not a terminal
    assert list(progress(range(3), "extract")) == [0, 1, 2]
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("extract: 1/3 (33 %) in ") and lines[-1].startswith("extract: 3/3")
    assert all("\r" not in line for line in lines)


def test_one_line_at_the_end_by_default_and_none_when_off(monkeypatch, capsys):
    monkeypatch.setenv("EAO_PROGRESS", "lines")
    monkeypatch.delenv("EAO_PROGRESS_EVERY", raising=False)
    assert list(progress(iter([1, 2]), "train")) == [1, 2]  # no len(): no total
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("train: 2 in ")
    monkeypatch.setenv("EAO_PROGRESS", "0")
    assert list(progress(range(2), "quiet")) == [0, 1]
    assert capsys.readouterr().err == ""
