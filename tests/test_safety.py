"""Safe loading and safe shelling out: a checkpoint is data, never code; no shell parses a
user's string.

A pickle that runs code when loaded (its __reduce__ names a callable) is refused by every
loader of the project, and the callable never runs. The code base is scanned for the ways a
string can reach a shell."""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from eao.backbones.weights import read_state_dict
from eao.checkpoints import import_official, load_model
from eao.train import state

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this object calls Path.touch(marker): code chosen by the file's author."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def evil(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    state_dict = OrderedDict(w=torch.zeros(2))
    torch.save({"state_dict": state_dict, "config": Payload(marker), "model": state_dict}, path)
    return path, marker


@pytest.mark.parametrize(
    "loader",
    [
        pytest.param(lambda p: read_state_dict(str(p)), id="backbone weights"),
        pytest.param(state.load, id="training checkpoint"),
        pytest.param(load_model, id="eao model"),
    ],
)
def test_loaders_refuse_a_pickle_that_runs_code(evil, loader):
    path, marker = evil
    with pytest.raises(pickle.UnpicklingError):
        loader(path)
    assert not marker.exists()


def test_checkpoint_import_refuses_it_with_the_reason_and_the_switch(evil, tmp_path):
    path, marker = evil
    refused = r"evil\.pth: holds pickled objects.*\(e\.g\. .*--trust-pickle"
    with pytest.raises(ValueError, match=refused):
        import_official(path, tmp_path / "out.pt")
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


# Ways a string reaches a shell in Python. Snakemake rules run shell commands by design; their
# values come from the config and are quoted with `:q` where they are paths or JSON.
SHELL_CALLS = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|pty\.spawn")


def test_no_python_code_hands_a_string_to_a_shell():
    hits = []
    for folder in ("src", "bench", "tools", "tests"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "test_safety.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if SHELL_CALLS.search(line):
                    hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_rule_shell_commands_quote_the_values_they_take_from_config():
    """Paths and JSON from the config enter shell commands quoted (`{params.x:q}`)."""
    unquoted = []
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        text = path.read_text()
        for name in ("model", "train", "options", "json", "config"):
            for match in re.finditer(rf"\{{params\.{name}(:q)?\}}", text):
                if not match.group(1):
                    unquoted.append(f"{path.name}: {match.group(0)}")
    assert not unquoted, unquoted
