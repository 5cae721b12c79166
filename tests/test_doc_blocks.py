"""Every command block of README.md and docs/*.md runs somewhere or says why it cannot.

A fenced block of commands (bash, sh), configs (yaml) or code (python) is one of:
- run as written by a test: RUN_BY names the test, which reads the page (checked here), or this
  file runs it (the Python of docs/data.md, against the tiny run);
- marked in its first line, visibly, `# not run here: <why>` (a GPU, a cluster, a download).
Either way, its commands are parsed here: each `snakemake` line by Snakemake's own argument
parser, each `eao`, `python -m eao...` or `python bench/...` command by its `--help`, each
`make` target found in the Makefile; a config block is validated against the config schema.
Blocks of other kinds (file trees, CSV and JSON examples, diagrams) are not commands.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.cli import get_argument_parser
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
COMMANDS = {"bash", "sh", "yaml", "python"}
NOT_RUN = "# not run here: "
# (page, the block's first line) -> the test that runs it as written (it reads the page)
RUN_BY = {
    (
        "README.md",
        "make demo   # run the workflow on the default config (the embedded demo world)",
    ): ("tests/test_workflow.py"),
    ("docs/benchmarks.md", "# released.yaml"): "tests/test_released_docs.py",
    (
        "docs/benchmarks.md",
        "eao import-checkpoint /models/eao/latest_model.pth results/pretrain/main/model.pt",
    ): ("tests/test_released_docs.py"),
    ("docs/benchmarks.md", "# my-eval.yaml: snakemake --cores 8 --configfile my-eval.yaml"): (
        "tests/test_released_docs.py"
    ),
    ("docs/benchmarks.md", "# mine.yaml: snakemake --cores 8 --configfile mine.yaml"): (
        "tests/test_own_benchmark.py"
    ),
    ("docs/data.md", "import pyarrow.parquet as pq"): "tests/test_doc_blocks.py",
    ("docs/features.md", "import numpy as np, pyarrow.parquet as pq"): "tests/test_doc_blocks.py",
}
RUN_BY_PAGE = {"docs/extending.md": "tests/test_extending.py"}  # every block of the page
SHELL_TOOLS = {"git", "cd", "source", "sinfo", "ls"}  # not ours: nothing to parse


def blocks() -> list[tuple[str, str, str]]:
    """(page, language, text) of every fenced block of commands, configs or code."""
    found = []
    for page in PAGES:
        rel = str(page.relative_to(REPO))
        for lang, text in FENCE.findall(page.read_text(encoding="utf-8")):
            if lang in COMMANDS:
                found.append((rel, lang, text))
    return found


BLOCKS = blocks()
IDS = [f"{page}:{text.splitlines()[0][:40]}" for page, _, text in BLOCKS]


def runner(page: str, text: str) -> str | None:
    return RUN_BY_PAGE.get(page) or RUN_BY.get((page, text.splitlines()[0].strip()))


@pytest.mark.parametrize(("page", "lang", "text"), BLOCKS, ids=IDS)
def test_a_block_is_run_by_a_test_or_says_why_not(page, lang, text):
    first = text.splitlines()[0]
    test = runner(page, text)
    if test is None:
        assert first.startswith(NOT_RUN) and len(first) > len(NOT_RUN) + 10, (
            f"{page}: a {lang} block nobody runs must say why in its first line ({NOT_RUN}...)"
        )
        return
    source = (REPO / test).read_text(encoding="utf-8")
    assert Path(page).name in source, f"{test} runs a block of {page} but never reads the page"


def shell_commands(text: str) -> list[list[str]]:
    """The block's commands, a line continued by `\\` joined, comments and `[...]` options out."""
    joined = re.sub(r"\\\n\s*", " ", text)
    commands = []
    for line in joined.splitlines():
        line = re.sub(r"\[[^\]]*\]", "", line.split(" #", 1)[0]).strip()
        if line and not line.startswith("#"):
            commands.append(shlex.split(line))
    return commands


def check_command(words: list[str]) -> None:
    tool = words[0]
    if tool in SHELL_TOOLS:
        return
    if tool == "make":
        targets = re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M)
        assert set(words[1:]) <= set(targets), f"make {words[1:]}: not a Makefile target"
    elif tool == "snakemake":
        get_argument_parser().parse_args(words[1:])
    elif tool in ("eao", "python"):
        helps(words)
    else:
        raise AssertionError(f"{' '.join(words)}: a command this test cannot parse")


def helps(words: list[str]) -> None:
    """`--help` of the entry point the command names: it exists and starts."""
    if words[0] == "eao":
        cmd = [sys.executable, "-m", "eao.cli", words[1]]
    elif words[1] == "-m":
        cmd = [sys.executable, "-m", words[2]]
    else:
        cmd = [sys.executable, str(REPO / words[1])]
    proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{' '.join(words)}: --help failed: {proc.stderr[-500:]}"


@pytest.mark.parametrize(("page", "lang", "text"), BLOCKS, ids=IDS)
def test_a_blocks_commands_parse(page, lang, text):
    if lang in ("bash", "sh"):
        for words in shell_commands(text):
            check_command(words)
    elif lang == "yaml":
        config = yaml.safe_load(text)
        # a config, not a profile; a page's own backbone is only registered where it is run
        if set(config) <= set(load_schema()["properties"]) and page not in RUN_BY_PAGE:
            validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    else:
        compile(text, page, "exec")


def load_schema() -> dict:
    return yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("page", ["docs/data.md", "docs/features.md"])
def test_the_pages_python_reads_the_tiny_runs_tables(tiny_run, page):
    """docs/data.md's and docs/features.md's Python, run in a finished tiny run's folder."""
    (code,) = [t for p, lang, t in BLOCKS if p == page and lang == "python"]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tiny_run, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip(), "the page's Python printed nothing"


CITED = re.compile(r"(?:tests/)?(test_\w+\.py)(?:::(\w+))?")


def test_every_test_the_docs_cite_exists():
    """A guarantee in the docs names its test (`tests/test_x.py::test_name`): both exist."""
    missing = []
    for page in [*PAGES, REPO / "BENCHMARKS.md"]:
        text = page.read_text(encoding="utf-8")
        # a test the page itself has you write (docs/extending.md) is not one of ours
        written = set(re.findall(r"# file: tests/(test_\w+\.py)", text))
        for file, name in CITED.findall(text):
            if file in written:
                continue
            path = REPO / "tests" / file
            source = path.read_text(encoding="utf-8") if path.exists() else ""
            if not source or (name and not re.search(rf"def {name}\b", source)):
                missing.append(f"{page.name}: {file}{'::' + name if name else ''}")
    assert not missing, "cited but not found:\n" + "\n".join(sorted(set(missing)))
