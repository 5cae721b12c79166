"""The code's shape (the style guide): every function of src/eao reads in one sitting (at most
50 lines), no module over 400 lines, and the formatter formats everything (no opt-out marker)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "eao"
MAX_FUNCTION_LINES = 50
MAX_MODULE_LINES = 400
FORMATTED = ["src", "tests", "bench", "tools"]
SKIP = "# fmt: " + "skip"  # spelled apart: this file would find itself


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES
    ]


def test_no_function_over_50_lines():
    found = [f for path in sorted(SRC.rglob("*.py")) for f in long_functions(path)]
    assert not found, "split into named steps:\n" + "\n".join(found)


def test_no_module_over_400_lines():
    # the library and its tools (a test module may hold one subject's many cases)
    modules = [p for part in ("src", "bench", "tools") for p in sorted((REPO / part).rglob("*.py"))]
    found = [
        f"{p.relative_to(REPO)} ({n} lines)"
        for p in modules
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not found, "split by what it holds:\n" + "\n".join(found)


def test_the_formatter_formats_everything():
    found = [
        f"{p.relative_to(REPO)}:{i}"
        for part in FORMATTED
        for p in sorted((REPO / part).rglob("*.py"))
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if SKIP in line
    ]
    assert not found, f"{len(found)} lines opt out of the formatter:\n" + "\n".join(found[:20])


def test_the_length_check_sees_a_long_function(tmp_path):
    path = REPO / "tests" / "_long_tmp.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    try:
        path.write_text(f"def f():\n{body}\n")
        assert long_functions(path) == [f"tests/_long_tmp.py:1 f ({MAX_FUNCTION_LINES + 1} lines)"]
    finally:
        path.unlink()
