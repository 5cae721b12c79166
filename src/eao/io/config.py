"""Reading a workflow config file (YAML, of which JSON is a subset) as a mapping."""

from __future__ import annotations

import os

import yaml

from eao.errors import BadInput, need_file, reading


def read_config(path: str | os.PathLike) -> dict:
    """The config's mapping; BadInput naming the file when it is missing, a folder, not YAML,
    or YAML of something else than a mapping (empty, a list, plain text)."""
    need_file(path, "config file")
    with reading(path), open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        what = "an empty file" if data is None else f"YAML of a {type(data).__name__}"
        raise BadInput(f"not a config: {what}, not a mapping of config keys", path)
    return data
