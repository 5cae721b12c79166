# Validation, dataset and shard helpers. Shard ids are computed here, when the DAG is built,
# from the videos CSV (or, before the demo world exists, from its plan), so `snakemake -n`
# shows every per-shard job and there is no checkpoint.

import json
import os
import sys

import eao
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
    encoder=r"hf|word2vec|clip",


EAO_VERSION = eao.__version__
MEDIA_BACKBONES = ["resnet152", "resnext101", "clip", "logmel"]  # extract_2d, _3d, _clip, _audio
TEXT_ENCODERS = ["hf", "word2vec", "clip"]


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
    ds = config["datasets"][wildcards.dataset]
    if not ds.get("captions"):
        return []
    return ["--captions", ds["captions"], "--captions-format", ds.get("captions_format", "howto")]


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


def extract_options(wildcards, output):
    """Options of `eao.features.extract` for the backbone named in the output path
    (results/features/<backbone>/...), from the config."""
    return media_options(output.features.split("/")[2])


def backbone_config(backbone):
    return config["features"].get(backbone, {})


def media_options(backbone):
    feats, cfg = config["features"], backbone_config(backbone)
    options = ["--device", feats.get("device", "auto"), "--batch-size", str(feats.get("batch_size", 32))]
    if backbone != "logmel":
        options += ["--weights", cfg.get("weights", "random"), "--seed", str(cfg.get("seed", 0))]
    if feats.get("bf16"):
        options.append("--bf16")
    return options


def text_options(wildcards):
    feats, cfg = config["features"], config["features"].get("text", {}).get(wildcards.encoder, {})
    options = ["--device", feats.get("device", "auto"), "--weights", cfg.get("weights", "random"),
               "--seed", str(cfg.get("seed", 0))]
    if cfg.get("tokenizer"):
        options += ["--tokenizer", cfg["tokenizer"]]
    return options


def enabled_backbones():
    return [b for b in MEDIA_BACKBONES if backbone_config(b).get("enabled", True)]


def enabled_text_encoders():
    text = config["features"].get("text", {})
    return [e for e in TEXT_ENCODERS if text.get(e, {}).get("enabled", False)]


def extract_failures(wildcards):
    """Failures tables of every extraction job of a dataset (the failures rule gathers them)."""
    name, shards = wildcards.dataset, SHARDS[wildcards.dataset]
    paths = []
    for backbone in enabled_backbones():
        paths += expand(f"results/features/{backbone}/{name}/failures-{{shard}}.parquet", shard=shards)
    if config["datasets"][name].get("captions"):
        for encoder in enabled_text_encoders():
            paths += expand(f"results/features/text_{encoder}/{name}/failures-{{shard}}.parquet", shard=shards)
    return paths


def all_outputs():
    outputs = []
    for name, shards in SHARDS.items():
        outputs += expand("results/probe/{dataset}/shard-{shard}.parquet", dataset=name, shard=shards)
        for backbone in enabled_backbones():
            outputs += expand(f"results/features/{backbone}/{name}/shard-{{shard}}.parquet", shard=shards)
        if config["datasets"][name].get("captions"):
            for encoder in enabled_text_encoders():
                outputs += expand(f"results/features/text_{encoder}/{name}/shard-{{shard}}.parquet", shard=shards)
        outputs.append(f"results/failures/{name}.parquet")
    if can_pretrain():
        outputs.append("results/pretrain/model.pt")
        outputs += expand("results/evaluate/zeroshot/{dataset}.json", dataset=retrieval_datasets())
    return outputs


# -- pretraining -----------------------------------------------------------------------------------
TRAIN_KEYS = ["epochs", "batch_videos", "n_clips", "min_time", "max_words", "video_tokens",
              "audio_frames", "audio_shift", "lr", "lr_gamma", "temperature", "loss_weights",
              "precision", "workers", "seed", "checkpoint_every_steps", "log_every_steps"]


def can_pretrain():
    """Pretraining needs its corpus among the datasets, with captions (a config of only your own
    uncaptioned videos stops after extraction)."""
    corpus = config["datasets"].get(config["pretrain"]["dataset"])
    return bool(corpus and corpus.get("captions"))


def train_config():
    """The TrainConfig part of the pretrain section (the rest says where and on what to run)."""
    return {k: v for k, v in config["pretrain"].items() if k in TRAIN_KEYS}


def shards_of(backbone, dataset):
    if not backbone:
        return []
    return expand(f"results/features/{backbone}/{dataset}/shard-{{shard}}.parquet", shard=SHARDS[dataset])


def pretrain_inputs(wildcards):
    p = config["pretrain"]
    ds = p["dataset"]
    return {"video_2d": shards_of(p.get("video_2d"), ds), "video_3d": shards_of(p.get("video_3d"), ds),
            "audio": shards_of(p.get("audio"), ds), "text": shards_of(f"text_{p['text']}", ds)}


def pretrain_launcher(wildcards, threads):
    """python for one device; torchrun with one process per GPU when more are asked for."""
    gpus = config["pretrain"].get("gpus", 1)
    if gpus > 1:
        return f"torchrun --standalone --nproc-per-node {gpus} -m eao.train.loop"
    return "python -m eao.train.loop"


# -- evaluation ------------------------------------------------------------------------------------
def retrieval_datasets():
    """Retrieval benchmarks of the config that are among the datasets and have captions."""
    return [name for name in config["evaluate"]["retrieval"]
            if config["datasets"].get(name, {}).get("captions")]


def retrieval_inputs(wildcards):
    """The model and the benchmark's shards of the backbones the model was trained on."""
    p, name = config["pretrain"], wildcards.dataset
    return {"model": "results/pretrain/model.pt", "manifest": f"results/manifest/{name}/videos.parquet",
            "video_2d": shards_of(p.get("video_2d"), name), "video_3d": shards_of(p.get("video_3d"), name),
            "audio": shards_of(p.get("audio"), name), "text": shards_of(f"text_{p['text']}", name)}


def retrieval_options(wildcards):
    e = config["evaluate"]["retrieval"][wildcards.dataset]
    options = ["--clips", e["clips"], "--video-tokens", str(e["video_tokens"]),
               "--audio-frames", str(e["audio_frames"]), "--max-words", str(config["pretrain"]["max_words"]),
               "--device", config["evaluate"]["device"]]
    if e.get("split"):
        options += ["--split", e["split"]]
    if e.get("complete_size"):
        options += ["--complete-size", str(e["complete_size"])]
    return options
