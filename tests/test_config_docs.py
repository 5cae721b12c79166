"""docs/config.md is generated from the config schema (tools/config_docs.py) and kept current."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("config_docs", REPO / "tools" / "config_docs.py")
config_docs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(config_docs)


@functools.cache
def schema() -> dict:
    return yaml.safe_load(config_docs.SCHEMA.read_text())


def test_docs_config_md_is_what_the_generator_writes_from_the_current_schema():
    current = (REPO / "docs" / "config.md").read_text()
    assert current == config_docs.render(schema()), (
        "docs/config.md is out of date with workflow/schemas/config.schema.yaml: "
        "run `python tools/config_docs.py` and commit docs/config.md"
    )


def test_every_key_of_the_schema_has_a_row_with_its_default():
    text = config_docs.render(schema())
    table = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            key, _type, default, *_ = (c.strip() for c in line.strip("|").split(" | "))
            table[key.strip("`")] = default

    def keys(node, path):
        node = config_docs.resolve(node, schema())
        for name, child in node.get("properties", {}).items():
            yield f"{path}{name}", config_docs.resolve(child, schema())
            yield from keys(child, f"{path}{name}.")
        if isinstance(node.get("additionalProperties"), dict):
            placeholder = config_docs.PLACEHOLDERS.get(path.rstrip("."), "<dataset>")
            yield from keys(node["additionalProperties"], f"{path}{placeholder}.")

    expected = dict(keys(schema(), ""))
    sections = {k for k, node in expected.items() if "." not in k and node.get("type") == "object"}
    assert set(expected) - set(table) == sections  # a section is a heading, not a row
    assert all(f"## {name}\n" in text for name in sections)
    for key, node in expected.items():
        if key in table and "default" in node:
            assert table[key] == config_docs.value(node["default"]), key
    # the drift that started it: the README said 16 where the schema says 8
    assert table["demo.youcook2_videos"] == "`8`"
    assert table["datasets.<name>.captions_format"] == "`howto`"
    assert "one of `shared`, `per_modality`, `none`" in text


def test_check_mode_and_the_atomic_write(tmp_path):
    out = tmp_path / "config.md"
    assert config_docs.main(["--out", str(out), "--check"]) == 1  # missing
    assert config_docs.main(["--out", str(out)]) == 0
    assert out.read_text() == config_docs.render(schema())
    assert [p.name for p in tmp_path.iterdir()] == ["config.md"]  # no temporary file left
    assert config_docs.main(["--out", str(out), "--check"]) == 0
    out.write_text(out.read_text().replace("`8`", "`16`"))
    assert config_docs.main(["--out", str(out), "--check"]) == 1
