"""The import graph of src/eao keeps the direction docs/architecture.md draws, and has no cycle.

Every `import eao...` counts, also the ones inside functions (hiding an import in a function does
not remove the dependency); only `if TYPE_CHECKING:` blocks are left out (no import at run time).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "eao"

# Small modules with no eao dependency of their own that any stage may use.
LEAVES = {"eao", "errors", "timeline", "progress", "devices", "versions"}

# What each package (or top-level module) may import besides itself and LEAVES. A lower stage
# never names a higher one: the model reads no file and knows nothing of data; data builds model
# inputs from what ingest wrote; train and evaluate meet only in the workflow and the tables.
ALLOWED = {
    "io": set(),
    "ingest": {"io"},
    "data": {"ingest", "io", "backbones"},
    "model": set(),
    "backbones": {"io"},
    "features": {"io", "backbones", "ingest"},
    "checkpoints": {"io", "model"},
    "train": {"model", "data", "ingest", "io", "checkpoints"},
    "evaluate": {"model", "data", "ingest", "io", "checkpoints", "features", "backbones"},
    "tables": {"io"},
    "demo": {"io"},
    "report": {"model", "data", "ingest", "io", "checkpoints", "evaluate", "features"},
    "serve": {"io", "evaluate"},
}
# Entry points and the workflow's helpers sit on top: they import anything, nothing imports them.
TOP = {"cli", "workflow", "doctor", "info", "own_videos"}
PURE_MODEL = {"model"}  # not even the leaves: pure torch


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test)


def imports_of(path: Path, type_checking: bool = False) -> set[str]:
    """eao modules imported by the file, wherever the import statement is; those under
    `if TYPE_CHECKING:` only with `type_checking`."""
    tree = ast.parse(path.read_text(), str(path))
    blocks = [] if type_checking else [b for b in ast.walk(tree) if _type_checking_block(b)]
    skipped = {id(n) for b in blocks for n in ast.walk(b)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "eao"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "eao":
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def graph(type_checking: bool = False) -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    # `from eao.x import y` names module eao.x.y when y is one, else a name inside eao.x
    return {
        m: {i for i in imports_of(p, type_checking) if i in files} - {m} for m, p in files.items()
    }


def stage(module: str) -> str:
    parts = module.split(".")
    return "eao" if len(parts) == 1 else parts[1]


def test_every_stage_imports_only_downward():
    wrong = []
    for mod, deps in sorted(graph().items()):
        own = stage(mod)
        if own in TOP:
            continue
        assert own in ALLOWED or own in LEAVES, f"{mod}: new stage, give it a row in ALLOWED"
        for dep in sorted(deps):
            other = stage(dep)
            leaf_ok = other in LEAVES and own not in PURE_MODEL
            if other != own and not leaf_ok and other not in ALLOWED.get(own, set()):
                wrong.append(f"{mod} -> {dep}")
    assert not wrong, "imports against the stage direction:\n" + "\n".join(wrong)


def test_leaves_import_no_stage():
    g = graph()
    for mod in g:
        if stage(mod) in LEAVES and mod != "eao":
            assert {stage(d) for d in g[mod]} <= {stage(mod)}, f"{mod}: {g[mod]}"


def test_no_import_cycle():
    """Not even through `if TYPE_CHECKING:` imports: a cycle there is two modules that each
    need the other's types, which one shared module should hold."""
    g = graph(type_checking=True)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for d in sorted(g[m]):
            if state.get(d) == 1:
                return path[path.index(d) :] + [d]
            if d not in state and (cycle := visit(d)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state:
            cycle = visit(m)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_check_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from eao.data import corpus\n"
        "def f():\n    from eao.ingest.manifest import build\n    import eao.io.parquet\n"
    )
    assert imports_of(f) == {"eao.ingest.manifest", "eao.ingest.manifest.build", "eao.io.parquet"}
    assert "eao.data" in imports_of(f, type_checking=True)
