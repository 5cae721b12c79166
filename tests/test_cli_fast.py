"""`eao --help` starts fast: it lists the commands from cli.COMMANDS and imports none of them
(torch alone takes over a second); each command's module is imported only when it runs."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eao import cli

HEAVY = ("torch", "numpy", "pyarrow", "transformers", "snakemake")

# Runs `eao --help` as `python -m eao.cli --help` does, then prints the modules it loaded.
WRAPPER = """
import contextlib, io, json, runpy, sys
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        runpy.run_module("eao.cli", run_name="__main__")
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_help_imports_no_subcommand_and_lists_every_command():
    sys_argv = [sys.executable, "-c", WRAPPER, "--help"]
    proc = subprocess.run(sys_argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["code"] == 0
    loaded = {m.split(".")[0] for m in result["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    stages = {m for m in result["modules"] if m.startswith("eao.")}
    assert stages <= {"eao.cli", "eao.errors"}, stages  # runpy runs eao.cli as __main__
    lines = result["help"].splitlines()
    for name, (_, text) in cli.COMMANDS.items():
        assert any(line.split(None, 1) == [name, text] for line in lines), name


def test_python_m_eao_cli_help_exits_zero():
    proc = subprocess.run(
        [sys.executable, "-m", "eao.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert all(name in proc.stdout for name in cli.COMMANDS)


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_names_an_importable_entry_point(name):
    module, _, function = cli.COMMANDS[name][0].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert cli.entry_point(name) is getattr(importlib.import_module(module), function)


def test_a_bad_argument_is_still_one_line_and_exit_2(capfd):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["info", "--bogus"])
    assert exit_.value.code == 2
    err = capfd.readouterr().err
    assert err.startswith("eao info: error: ") and err.count("\n") == 1, err


def test_every_rules_entry_point_is_also_an_eao_command():
    """README: every rule calls one entry point, `python -m eao.<stage>`, also `eao <command>`."""
    repo = Path(__file__).resolve().parents[1]
    sources = [*repo.glob("workflow/rules/*.smk"), repo / "src/eao/workflow/options.py"]
    called = {m for p in sources for m in re.findall(r"-m (eao(?:\.\w+)+)", p.read_text())}
    commands = {
        target.partition(":")[0].removesuffix(".__main__") for target, _ in cli.COMMANDS.values()
    }
    assert len(called) >= 15 and called <= commands, sorted(called - commands)
