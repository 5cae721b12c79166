# Validation, dataset and shard helpers. Shard ids are computed here, when the DAG is built,
# from the videos CSV (or, before the demo world exists, from its plan), so `snakemake -n`
# shows every per-shard job and there is no checkpoint.

import json
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from eao.data.manifest import count_csv_rows, shard_count
from eao.demo.world import DATASETS as DEMO_DATASETS
from eao.demo.world import DemoConfig, plan_world


def validate_config():
    """Validate against the schema (filling defaults); on error name the key, not the schema dump."""
    try:
        validate(config, "../schemas/config.schema.yaml")
    except WorkflowError as e:
        cause = e.__context__  # snakemake raises while handling jsonschema's ValidationError
        if not hasattr(cause, "absolute_path"):
            raise
        where = ".".join(str(p) for p in cause.absolute_path) or "the top level"
        raise WorkflowError(
            f"Invalid config at {where}: {cause.message}. "
            "Keys and types: workflow/schemas/config.schema.yaml (README: Configuration)."
        ) from None


validate_config()

DEMO_DIR = "results/demo_world"
# Jobs call `python -m eao...`: put the interpreter running snakemake (the project's venv) first
# on PATH, so that works without activating the venv; envvars passes PATH on to cluster jobs.
envvars:
    "PATH",


SEARCH_PATH = os.environ["PATH"]
os.environ.update(PATH=os.pathsep.join([os.path.dirname(sys.executable), SEARCH_PATH]))


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    shard=r"\d{5}",


def demo_enabled():
    return config["demo"].get("enabled", False)


def demo_planned_count(videos_csv):
    """Videos the demo world will write to `videos_csv`, or None if it is not a demo file."""
    if not demo_enabled():
        return None
    for name in DEMO_DATASETS:
        if os.path.normpath(videos_csv) == os.path.join(DEMO_DIR, name, "videos.csv"):
            return len(plan_world(DemoConfig.from_config(config["demo"])).videos[name])
    return None


def video_count(dataset):
    csv_path = config["datasets"][dataset]["videos"]
    planned = demo_planned_count(csv_path)
    if planned is not None:
        return planned
    if not os.path.exists(csv_path):
        raise WorkflowError(
            f"dataset {dataset}: videos CSV {csv_path} does not exist "
            "(and it is not a file the demo world writes)"
        )
    return count_csv_rows(csv_path)


SHARDS = {
    name: [f"{i:05d}" for i in range(shard_count(video_count(name), config["shard_size"]))]
    for name in sorted(config["datasets"])
}


def dataset_shards(wildcards):
    return SHARDS[wildcards.dataset]


def probe_failures(wildcards):
    return expand(
        "results/probe/{dataset}/failures-{shard}.parquet",
        dataset=wildcards.dataset,
        shard=SHARDS[wildcards.dataset],
    )


def captions_arg(wildcards):
    path = config["datasets"][wildcards.dataset].get("captions")
    return ["--captions", path] if path else []


def dataset_root(wildcards):
    return config["datasets"][wildcards.dataset]["root"]


def demo_out_dir(wildcards, output):
    return os.path.dirname(output.world)


def demo_json(wildcards):
    return json.dumps(config["demo"], sort_keys=True)


def dataset_inputs(wildcards):
    ds = config["datasets"][wildcards.dataset]
    inputs = {"videos": ds["videos"]}
    if ds.get("captions"):
        inputs["captions"] = ds["captions"]
    return inputs


def all_outputs():
    outputs = []
    for name, shards in SHARDS.items():
        outputs += expand("results/probe/{dataset}/shard-{shard}.parquet", dataset=name, shard=shards)
        outputs.append(f"results/failures/{name}.parquet")
    return outputs
