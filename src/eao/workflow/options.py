"""Each rule's options and recorded params, as plain functions of the validated config.

Snakemake records a rule's params and reruns a job when they change, except params computed by
a function of input, output, threads or resources ("derived": their changes are meant to show
up as input changes). Every setting that can change an output is therefore a plain param (or a
function of wildcards only); settings that change no output (batch sizes where results are
batch-invariant, data-loader workers, stall timeouts, how often to checkpoint) go through a
`runtime` param that is a function of threads, on purpose, so changing them reruns nothing.
The schema's x-reruns says for every key which rules it reruns (tests/test_config_keys.py).
Params are compared as text: JSON params have sorted keys, so a config file rewritten in another
key order (yaml.safe_dump sorts) reruns nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields

from eao.backbones.registry import backbone as registered
from eao.tables.build import Config as TablesConfig
from eao.tables.build import result_keys
from eao.train.config import TrainConfig
from eao.workflow.passes import backbone_config, passes
from eao.workflow.plan import (
    attention_dataset,
    encoder_config,
    evaluation_outputs,
    imported,
    retrieval_datasets,
)
from eao.workflow.variants import finetune_variants, variant_section

# The TrainConfig keys of the pretrain section (eval_mode is fine-tuning's, eao.train.finetune).
TRAIN_KEYS = [f.name for f in fields(TrainConfig) if f.name != "eval_mode"]
# TrainConfig keys that change no output: clips are sampled from (seed, epoch, video) keys in
# the main process, so any number of loader workers gives the same batches; checkpoints only
# make a run resumable. log_every_steps stays recorded: it changes metrics.jsonl.
TRAIN_RUNTIME_KEYS = ["workers", "checkpoint_every_steps"]
# The pretrain settings that describe a trained model: the tables quote them in their notes.
MODEL_DEFINING_KEYS = ["dataset", "checkpoint", "video_2d", "video_3d", "audio", "text"] + [
    k for k in TRAIN_KEYS if k not in [*TRAIN_RUNTIME_KEYS, "log_every_steps"]
]


# -- data ------------------------------------------------------------------------------------------
def demo_json(config: dict) -> str:
    """The world's settings (`enabled` says whether to make it, not what it is)."""
    return json.dumps({k: v for k, v in config["demo"].items() if k != "enabled"}, sort_keys=True)


def captions_arg(dataset: dict) -> list[str]:
    """manifest's captions flags for a dataset's settings (none without captions)."""
    if not dataset.get("captions"):
        return []
    return ["--captions", dataset["captions"], "--captions-format", dataset["captions_format"]]


def dataset_inputs(dataset: dict) -> dict[str, str]:
    inputs = {"videos": dataset["videos"]}
    if dataset.get("captions"):
        inputs["captions"] = dataset["captions"]
    return inputs


def import_pickle(config: dict, name: str, backbone: str | None) -> dict[str, str]:
    """The pickles one import job reads: the ResNet pickle (ids, captions, the clips kept) and,
    for a backbone released in a pickle of its own (CLIP, S3D), that pickle."""
    spec = imported(config, name)
    key = registered(backbone).released[0] if backbone else "resnet"
    return {"resnet": spec["resnet"], **({key: spec[key]} if key != "resnet" else {})}


def import_args(inputs: dict) -> list[str]:
    """`--pickle KEY=PATH` for each pickle the job reads."""
    return [arg for key, path in inputs.items() for arg in ("--pickle", f"{key}={path}")]


# -- features --------------------------------------------------------------------------------------
def extract_runtime(config: dict) -> list[str]:
    """Extraction settings that change no output: frames per forward pass (eval-mode backbones
    give the same features in any batch, up to float rounding) and the ffmpeg stall timeout."""
    feats = config["features"]
    return [
        "--batch-size",
        str(feats["batch_size"]),
        "--stall-timeout-s",
        str(feats["stall_timeout_s"]),
    ]


def word2vec_source(config: dict, schema: dict) -> str | None:
    """The word2vec file the config names, or None: nothing to convert for random vectors or a
    folder that is converted already."""
    weights = encoder_config(config, "word2vec")["weights"]
    return None if weights.strip().lower() == "random" or os.path.isdir(weights) else weights


def word2vec_converted(config: dict, schema: dict) -> str:
    """Where rule convert_word2vec puts the word2vec file, converted for memory-mapped loading
    (eao.backbones.word2vec): every extract_text job reads that instead of parsing and hashing
    the 3.6 GB binary."""
    name = os.path.basename(word2vec_source(config, schema).rstrip("/"))
    for suffix in (".gz", ".bz2", ".bin", ".txt", ".vec"):
        name = name.removesuffix(suffix)
    return f"results/word2vec/{name}.kv"


def local_weights(weights: str | None) -> list[str]:
    """`weights` when it names a local file or folder (an input: replacing it reruns), else []:
    `random`, a library name (IMAGENET1K_V1) or a hub id are recorded params only."""
    return [weights] if weights and weights != "random" and os.path.exists(weights) else []


def pass_weights_inputs(config: dict, pass_name: str) -> list[str]:
    """An extraction pass's local weights files: those of its enabled backbones."""
    members = passes(config).get(pass_name, [])
    configs = [backbone_config(config, b) for b in members]
    return sorted({p for cfg in configs for p in local_weights(cfg.get("weights"))})


def text_weights_input(config: dict, schema: dict, encoder: str) -> list[str]:
    """extract_text's converted word2vec folder, when it reads one, or its local weights."""
    if encoder == "word2vec" and word2vec_source(config, schema):
        return [word2vec_converted(config, schema)]
    return local_weights(encoder_config(config, encoder)["weights"])


def text_options(config: dict, schema: dict, encoder: str) -> list[str]:
    cfg = encoder_config(config, encoder)
    converted = text_weights_input(config, schema, encoder)  # the converted folder of a file
    weights = converted[0] if converted else cfg["weights"]
    options = [
        "--device",
        config["features"]["device"],
        "--weights",
        weights,
        "--seed",
        str(cfg["seed"]),
    ]
    if cfg.get("tokenizer"):
        options += ["--tokenizer", cfg["tokenizer"]]
    return options


# -- training --------------------------------------------------------------------------------------
def train_config(config: dict, variant: str, runtime: bool = False) -> str:
    """The recorded TrainConfig part of the variant's pretrain section (the rest says where and
    on what, or changes no output); with `runtime`, the whole TrainConfig JSON the job gets."""
    p = variant_section(config, variant, "pretrain")
    keys = TRAIN_KEYS if runtime else [k for k in TRAIN_KEYS if k not in TRAIN_RUNTIME_KEYS]
    return json.dumps({k: p[k] for k in keys}, sort_keys=True)


def model_config(config: dict, variant: str) -> str:
    return json.dumps(variant_section(config, variant, "model"), sort_keys=True)


def pretrain_processes(config: dict) -> int:
    """Training processes (recorded: under DDP each rank keeps its own BatchNorm statistics)."""
    return max(1, config["pretrain"]["gpus"])


def pretrain_launcher(config: dict) -> str:
    """python for one device; torchrun with one process per GPU when more are asked for."""
    gpus = config["pretrain"]["gpus"]
    if gpus > 1:  # torchrun as a module: the job's python, whatever is on PATH
        torchrun = "python -m torch.distributed.run --standalone"
        return f"{torchrun} --nproc-per-node {gpus} -m eao.train.loop"
    return "python -m eao.train.loop"


def finetune_config(config: dict, variant: str, dataset: str, runtime: bool = False) -> str:
    """TrainConfig of a fine-tuning run: the benchmark's lengths (evaluate.retrieval) and the
    finetune section's optimisation (loss weights all 1 and eval mode: eao.train.finetune).
    The recorded part; with `runtime`, also the loader workers (they change no output)."""
    f, ds = config["finetune"], config["finetune"]["datasets"][dataset]
    e, p = config["evaluate"]["retrieval"][dataset], variant_section(config, variant, "pretrain")
    train = {
        "epochs": ds["epochs"],
        "lr": ds["lr"],
        "lr_gamma": ds["lr_gamma"],
        "batch_videos": ds["batch_videos"],
        "video_tokens": e["video_tokens"],
        "audio_frames": e["audio_frames"],
        "max_words": p["max_words"],
        "precision": f["precision"],
        "seed": p["seed"],
        "log_every_steps": 1,
    }
    if runtime:
        train["workers"] = f["workers"]
    return json.dumps(train, sort_keys=True)


def finetune_options(config: dict, dataset: str) -> list[str]:
    ds = config["finetune"]["datasets"][dataset]
    options = [
        "--clips",
        config["evaluate"]["retrieval"][dataset]["clips"],
        "--split",
        ds["split"],
        "--device",
        config["finetune"]["device"],
    ]
    return options + (["--all-clips"] if ds["all_clips"] else [])


# -- evaluation ------------------------------------------------------------------------------------
def max_words(config: dict, variant: str) -> str:
    return str(variant_section(config, variant, "pretrain")["max_words"])


def retrieval_options(
    config: dict, stage: str, variant: str, dataset: str, strategy: str
) -> list[str]:
    e = config["evaluate"]["retrieval"][dataset]
    split = e.get("split")
    if stage == "finetuned":
        split = config["finetune"]["datasets"][dataset]["test_split"]
    options = [
        "--clips",
        e["clips"],
        "--video-tokens",
        str(e["video_tokens"]),
        "--audio-frames",
        str(e["audio_frames"]),
        "--max-words",
        max_words(config, variant),
        "--device",
        config["evaluate"]["device"],
        "--strategy",
        strategy,
    ]
    options += strategy_options(config, variant, strategy)
    if split:
        options += ["--split", split]
    if e.get("complete_size"):
        options += ["--complete-size", str(e["complete_size"])]
    return options


def strategy_options(config: dict, variant: str, strategy: str) -> list[str]:
    """The long-video settings the job's strategy uses (only those: changing the clips
    strategy's length must not rerun the all-at-once evaluations)."""
    long = config["evaluate"]["long_videos"]
    if strategy in ("uniform", "max_pool"):
        return ["--strategy-tokens", str(long["strategy_tokens"])]
    if strategy != "clips":
        return []
    # a train-length clip has the training's spectrogram length
    frames = variant_section(config, variant, "pretrain")["audio_frames"]
    options = ["--clip-seconds", str(long["clip_seconds"]), "--clip-frames", str(frames)]
    if long["max_clips"]:
        options += ["--max-clips", str(long["max_clips"])]
    return options


def localization_options(config: dict, variant: str, dataset: str) -> list[str]:
    e = config["evaluate"]["localization"][dataset]
    options = [
        "--benchmark",
        dataset,
        "--video-tokens",
        str(e["video_tokens"]),
        "--audio-frames",
        str(e["audio_frames"]),
        "--radius",
        str(e["radius"]),
        "--temperature",
        str(e["temperature"]),
        "--softmax-over",
        e["softmax_over"],
        "--background",
        e["background"],
        "--steps",
        e["steps"],
        "--max-words",
        max_words(config, variant),
        "--device",
        config["evaluate"]["device"],
    ]
    if e["exclude_val"]:
        options.append("--exclude-val")
    if e["skip_short_videos"]:
        options.append("--skip-short-videos")
    return options  # test_list is an input (plan.localization_inputs; adapters' test_list_arg)


def index_options(config: dict) -> list[str]:
    i, p = config["index"], config["pretrain"]
    return [
        "--window-s",
        str(i["window_s"]),
        "--stride-s",
        str(i["stride_s"]),
        "--video-tokens",
        str(i["video_tokens"]),
        "--audio-frames",
        str(i["audio_frames"]),
        "--max-words",
        str(p["max_words"]),
        "--device",
        config["evaluate"]["device"],
        *(
            x
            for key, value in i["ann"].items()
            for x in (f"--ann-{key.replace('_', '-')}", str(value))
        ),
    ]


# -- report and tables -----------------------------------------------------------------------------
def report_options(config: dict) -> list[str]:
    p, name = config["pretrain"], attention_dataset(config)
    e = config["evaluate"]["retrieval"][name]
    return [
        "--datasets",
        *retrieval_datasets(config),
        "--attention-dataset",
        name,
        "--video-tokens",
        str(e["video_tokens"]),
        "--audio-frames",
        str(e["audio_frames"]),
        "--max-words",
        str(p["max_words"]),
    ]


def report_index_args(config: dict, inputs) -> list[str]:
    """The search grid's index and captions (input paths: their changes rerun as inputs)."""
    if not config["index"]["datasets"]:
        return []
    return ["--index", inputs.index, "--captions", inputs.captions]


def table_inputs(config: dict) -> list[str]:
    """Rule tables' inputs: the evaluation results of this run that the tables read
    (eao.tables.result_keys, the tool's own list), in the plan's order. A result the tables
    read that this config does not make (a long-video strategy left out) is not an input: its
    cells say it was not given; tests/test_workflow_options.py checks that the repository's
    configs make every one."""
    tables = TablesConfig.from_dict(json.loads(tables_config(config)))
    read = {f"results/{key}" for key in result_keys(tables)}
    return [path for path in evaluation_outputs(config) if path in read]


def tables_config(config: dict) -> str:
    """What the tables need to know about this run: which datasets and variants exist."""
    variants = {"main": {"description": "the paper's model"}, **config["ablations"]["variants"]}
    pretrain = {k: config["pretrain"][k] for k in MODEL_DEFINING_KEYS}
    # the tables read both lists as sets: sorted, so reordering them reruns nothing
    return json.dumps(
        {
            "datasets": sorted(config["datasets"]),
            "ablations_run": sorted(config["ablations"]["run"]),
            "variants": variants,
            "pretrain": pretrain,
            "finetune_variants": sorted(finetune_variants(config)),
        },
        sort_keys=True,
    )
