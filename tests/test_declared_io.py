"""Declared I/O, checked in the source: no tool under src/eao finds its files itself (no listing
of a folder, no path into results/ as a default), every rule's shell command takes its paths
from the rule's input, output and params (none written into it), and every rule runs under
`shadow: SHADOW`. tests/test_shadow.py proves the result: the tiny workflow run with every job
in a shadow directory writes the same tables. docs/reliability.md lists these guarantees."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "eao"
RULE_FILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]

# Calls that list a folder: os.listdir/scandir/walk, glob.glob/iglob, Path.glob/rglob/iterdir.
LISTING = {"listdir", "scandir", "walk", "glob", "iglob", "rglob", "iterdir"}
# The listings a module may make, and why none of them lists the workflow's results.
ALLOWED_LISTINGS = {
    ("own_videos.py", "rglob"): "`eao index FOLDER` finds the videos of the user's folder",
}
RESULTS_PATH = re.compile(r"^(\./)?results(/|$)")


def modules() -> list[tuple[str, ast.Module]]:
    return [(str(p.relative_to(SRC)), ast.parse(p.read_text())) for p in sorted(SRC.rglob("*.py"))]


def listings(tree: ast.Module) -> list[tuple[str, int]]:
    """(listing function, line) of every call that lists a folder."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in LISTING:
                found.append((name, node.lineno))
    return found


def string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "text" assignments (a default given by name is looked through)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    out[target.id] = node.value.value
    return out


def path_defaults(tree: ast.Module) -> list[tuple[str, int]]:
    """(text, line) of every default into results/: of a function parameter, or of an
    argparse option (add_argument(..., default=...))."""
    names = string_constants(tree)
    defaults = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defaults += [d for d in node.args.defaults + node.args.kw_defaults if d is not None]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            defaults += [k.value for k in node.keywords if k.arg == "default"]
    found = []
    for value in defaults:
        text = value.value if isinstance(value, ast.Constant) else None
        if isinstance(value, ast.Name):
            text = names.get(value.id)
        if isinstance(text, str) and RESULTS_PATH.match(text):
            found.append((text, value.lineno))
    return found


def rule_blocks() -> dict[str, str]:
    """Each rule's text (from `rule NAME:` to the next line indented no deeper), by name."""
    blocks = {}
    for path in RULE_FILES:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"^(\s*)rule (\w+):", line)
            if not match:
                continue
            indent, body = len(match.group(1)), [line]
            for nxt in lines[i + 1 :]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt)
            blocks[match.group(2)] = "\n".join(body)
    return blocks


def shell_command(block: str) -> str | None:
    """A rule's shell command as written: the string literals after `shell:`, joined."""
    match = re.search(r"\n(\s+)shell:\n((?:\1\s+\".*\"\n?)+)", block + "\n")
    if not match:
        return None
    return "".join(ast.literal_eval(line.strip()) for line in match.group(2).splitlines())


def test_no_tool_lists_a_folder_to_find_its_files():
    """The report's attention analysis once globbed results/features/<backbone>/<dataset>/
    (FeatureTables.from_results): stale shards were read, and a new one did not rerun it. Every
    listing must be one of ALLOWED_LISTINGS, with the reason it is no listing of results."""
    found = {(name, call): line for name, tree in modules() for call, line in listings(tree)}
    unexplained = sorted(
        f"{name}:{line} {call}()"
        for (name, call), line in found.items()
        if (name, call) not in ALLOWED_LISTINGS
    )
    assert not unexplained, f"listing a folder (give the files on the command line): {unexplained}"
    assert set(ALLOWED_LISTINGS) <= set(found)  # no stale entry


def test_no_path_into_results_is_a_default():
    """eao.tables once defaulted to --results results and computed its own list of evaluation
    files under it, beside the rule's inputs; eao.report to --results results: a tool gets every
    path from its rule. The workflow's own layout (eao.workflow) is where such paths belong."""
    found = sorted(
        f"{name}:{line} {text!r}"
        for name, tree in modules()
        if not name.startswith("workflow/")
        for text, line in path_defaults(tree)
    )
    assert not found, f"defaults into results/ (the rule passes every path): {found}"


def test_every_rule_passes_its_paths_and_runs_under_shadow():
    """No path in a rule's command: `--results results`, `--out results/tables`, `--out-dir
    results/report` let a tool write or read what the rule does not declare."""
    blocks = rule_blocks()
    assert {"all", "demo_world", "tables", "report_figures", "pretrain"} <= set(blocks)
    for rule, block in blocks.items():
        assert re.search(r"^\s+shadow:\s+SHADOW$", block, re.MULTILINE), rule  # snakefmt's
        command = shell_command(block)
        assert (command is None) == (rule == "all"), rule
        if command is None:
            continue
        bare = re.sub(r"\{[^{}]*\}", "", command)  # what is left without {input}, {params.x}
        assert not re.search(r"\b(results|logs|benchmarks)\b", bare), (rule, command)
        assert re.search(r"> \{log(\.\w+)?\} 2>&1$", command), rule  # its log: declared too
