"""The workflow's config before and after schema validation: plain functions of dicts, so the
Snakefile's checks are tested without Snakemake.

`snakemake --config key=value` parses a nested value with YAML's BaseLoader, which keeps every
scalar a string (`--config features='{batch_size: 16}'` gives {"batch_size": "16"}).
`coerce_cli_strings` reads such strings again with the safe loader where the schema expects
another type, so overrides work as users type them.
"""

from __future__ import annotations

from typing import Any

import yaml


class UnknownDataset(ValueError):
    """A dataset name that is not a key of the config's `datasets`."""


def resolve(node: dict, schema: dict) -> dict:
    """A schema node with its "$ref" (e.g. "#/$defs/<name>") replaced by the definition, the
    node's own keys on top."""
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _types(node: dict) -> set[str]:
    types = node.get("type", [])
    return set(types if isinstance(types, list) else [types])


def _matches(value: Any, types: set[str]) -> bool:
    checks = {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    return any(checks.get(t, False) for t in types)


def coerce_cli_strings(value: Any, node: dict, schema: dict) -> Any:
    """`value` with every string re-read by YAML where the schema's type for it is not string
    (or is string-or-null and the text is null). Other values are returned as they are."""
    node = resolve(node, schema)
    types = _types(node)
    if isinstance(value, str) and types and "string" not in types:
        parsed = yaml.safe_load(value) if value.strip() else value
        if isinstance(parsed, str) and "number" in types:
            parsed = _float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string
        return parsed if _matches(parsed, types) else value
    if isinstance(value, str) and "null" in types and value in ("null", "~"):
        return None
    if isinstance(value, dict):
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        return {
            k: coerce_cli_strings(v, props.get(k, extra if isinstance(extra, dict) else {}), schema)
            for k, v in value.items()
        }
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [coerce_cli_strings(v, node["items"], schema) for v in value]
    return value


def validate_config(config: dict, schema: dict, schema_path: str) -> None:
    """Validate `config` in place against the schema at `schema_path` (`schema`: its content),
    filling the defaults; nested `--config` strings are typed first (coerce_cli_strings). An
    invalid value stops the DAG as a WorkflowError naming the key, not dumping the schema."""
    from snakemake.exceptions import WorkflowError  # imported here: the rest needs no snakemake
    from snakemake.utils import validate

    config.update(coerce_cli_strings(dict(config), schema, schema))
    try:
        validate(config, schema_path)
    except WorkflowError as e:
        cause = e.__context__  # snakemake raises while handling jsonschema's ValidationError
        if not hasattr(cause, "absolute_path"):
            raise
        where = ".".join(str(p) for p in cause.absolute_path) or "the top level"
        raise WorkflowError(
            f"Invalid config at {where}: {cause.message}. "
            "Keys and types: workflow/schemas/config.schema.yaml (README: Configuration)."
        ) from None


def _float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def check_dataset(config: dict, name: str, where: str) -> dict:
    """The settings of dataset `name`, or UnknownDataset naming the known ones."""
    datasets = config["datasets"]
    if name not in datasets:
        known = ", ".join(sorted(datasets))
        raise UnknownDataset(f"{where}: unknown dataset {name!r} (the config's datasets: {known})")
    return datasets[name]


def check_dataset_sources(config: dict) -> None:
    """Every dataset has videos (`videos` and `root`) or imported features (`imported`), not
    both: ValueError naming the dataset and what is missing or extra; a run needs one."""
    if not config["datasets"]:
        raise ValueError(
            "Invalid config at datasets: no dataset (name yours under datasets:, "
            "or set demo.enabled: true for the demo world's)"
        )
    for name, ds in config["datasets"].items():
        where = f"Invalid config at datasets.{name}"
        if ds.get("imported"):
            extra = [k for k in ("videos", "root", "captions") if k in ds]
            if extra:
                raise ValueError(
                    f"{where}: imported replaces videos, root and captions "
                    f"(remove {', '.join(extra)})"
                )
        else:
            missing = [k for k in ("videos", "root") if k not in ds]
            if missing:
                raise ValueError(
                    f"{where}: {' and '.join(repr(k) for k in missing)} required "
                    "(or `imported:` for released features)"
                )


def check_dataset_references(config: dict, given: dict) -> None:
    """Every dataset a setting names exists: `index.datasets`, and the pretraining corpus when
    the user's config names it (`given`: the config before the schema's defaults; the default
    `howto` may be absent, in a config of only one's own videos that stops after extraction)
    or a variant overrides it. The per-benchmark protocol maps have defaults for the paper's
    benchmarks and apply only to the datasets present, so they are not checked."""
    for name in config["index"]["datasets"]:
        check_dataset(config, name, "index.datasets")
    corpus = (given.get("pretrain") or {}).get("dataset")
    if corpus is not None:
        check_dataset(config, corpus, "pretrain.dataset")
    for variant, spec in config["ablations"]["variants"].items():
        corpus = (spec.get("pretrain") or {}).get("dataset")
        if corpus is not None:
            check_dataset(config, corpus, f"ablations.variants.{variant}.pretrain.dataset")


def coerce_variant_overrides(config: dict, schema: dict) -> None:
    """An ablation variant's overrides typed as the model and pretrain sections' keys (the
    schema types them only as objects, so nested `--config` strings would stay strings)."""
    for spec in config["ablations"]["variants"].values():
        for section in ("model", "pretrain"):
            if isinstance(spec.get(section), dict):
                spec[section] = coerce_cli_strings(
                    spec[section], schema["properties"][section], schema
                )
