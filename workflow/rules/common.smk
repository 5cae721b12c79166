# Validation, dataset and shard helpers. Shard ids are computed here, when the DAG is built,
# from the videos CSV (or, before the demo world exists, from its plan), so `snakemake -n`
# shows every per-shard job and there is no checkpoint.

import json
import os
import sys

import yaml

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

with open(os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")) as f:
    SCHEMA = yaml.safe_load(f)
# The keys an ablation variant may override: those of the main model and pretrain sections.
SECTION_KEYS = {s: list(SCHEMA["properties"][s]["properties"]) for s in ("model", "pretrain")}

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
    variant=r"[A-Za-z0-9_]+",
    stage=r"zeroshot|finetuned",
    strategy=r"at_once|uniform|max_pool|clips",


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
        outputs += expand("results/pretrain/{variant}/model.pt", variant=pretrained_variants())
        outputs += evaluation_outputs()
        outputs += TABLE_FILES
        outputs += index_outputs()
        if retrieval_datasets():  # the figures need a retrieval benchmark
            outputs += report_outputs()
    return outputs


# -- variants --------------------------------------------------------------------------------------
# `main` is the config's model and pretrain sections; an ablation variant is main with the
# overrides of config ablations.variants.<name> (run when listed in ablations.run).
def variant_names():
    return ["main"] + list(config["ablations"].get("run", []))


def validate_variants():
    variants = config["ablations"].get("variants", {})
    unknown = [v for v in config["ablations"].get("run", []) if v not in variants]
    if unknown:
        raise WorkflowError(f"Invalid config at ablations.run: {', '.join(unknown)} not in ablations.variants")
    for name, spec in variants.items():
        for section in ("model", "pretrain"):
            extra = sorted(set(spec.get(section, {})) - set(SECTION_KEYS[section]))
            if extra:
                raise WorkflowError(f"Invalid config at ablations.variants.{name}.{section}: unknown keys "
                                    f"{', '.join(extra)} (keys of the {section} section only)")
    bad = [v for v in config["finetune"].get("variants", []) if v != "main" and v not in variants]
    if bad:
        raise WorkflowError(f"Invalid config at finetune.variants: {', '.join(bad)} not in ablations.variants")


def variant_section(variant, section):
    """The config section (model or pretrain) of a variant: main's with the variant's overrides."""
    overrides = {} if variant == "main" else config["ablations"]["variants"][variant].get(section, {})
    return {**config[section], **overrides}


# -- pretraining -----------------------------------------------------------------------------------
TRAIN_KEYS = ["epochs", "batch_videos", "n_clips", "min_time", "max_words", "video_tokens",
              "audio_frames", "audio_shift", "lr", "lr_gamma", "temperature", "loss_weights",
              "precision", "workers", "seed", "checkpoint_every_steps", "log_every_steps",
              "accumulate", "order"]


def imported_checkpoint():
    """A released EAO checkpoint (pretrain.checkpoint) that stands in for the main model."""
    return config["pretrain"].get("checkpoint")


def can_pretrain():
    """The main model exists when it is imported, or when its corpus is among the datasets with
    captions (a config of only your own uncaptioned videos stops after extraction)."""
    corpus = config["datasets"].get(config["pretrain"]["dataset"])
    return bool(imported_checkpoint() or (corpus and corpus.get("captions")))


def pretrained_variants():
    return variant_names()


def train_config(wildcards):
    """The TrainConfig part of the variant's pretrain section (the rest says where and on what)."""
    p = variant_section(wildcards.variant, "pretrain")
    # params are compared as text: sorted keys, so a config file rewritten in another key order
    # (yaml.safe_dump sorts) does not rerun the models
    return json.dumps({k: v for k, v in p.items() if k in TRAIN_KEYS}, sort_keys=True)


def model_config(wildcards):
    return json.dumps(variant_section(wildcards.variant, "model"), sort_keys=True)


def shards_of(backbone, dataset):
    if not backbone:
        return []
    return expand(f"results/features/{backbone}/{dataset}/shard-{{shard}}.parquet", shard=SHARDS[dataset])


def feature_inputs(variant, dataset):
    """The dataset's shards of the backbones the variant is trained on."""
    p = variant_section(variant, "pretrain")
    return {"video_2d": shards_of(p.get("video_2d"), dataset), "video_3d": shards_of(p.get("video_3d"), dataset),
            "audio": shards_of(p.get("audio"), dataset), "text": shards_of(f"text_{p['text']}", dataset)}


def pretrain_inputs(wildcards):
    return feature_inputs(wildcards.variant, config["pretrain"]["dataset"])


def pretrain_launcher(wildcards, threads):
    """python for one device; torchrun with one process per GPU when more are asked for."""
    gpus = config["pretrain"].get("gpus", 1)
    if gpus > 1:  # torchrun as a module: the job's python, whatever is on PATH
        return f"python -m torch.distributed.run --standalone --nproc-per-node {gpus} -m eao.train.loop"
    return "python -m eao.train.loop"


# -- fine-tuning -----------------------------------------------------------------------------------
def finetune_variants():
    return [v for v in config["finetune"].get("variants", []) if v in variant_names()]


def finetune_inputs(wildcards):
    return {"init": f"results/pretrain/{wildcards.variant}/model.pt",
            "manifest": f"results/manifest/{wildcards.dataset}/videos.parquet",
            **feature_inputs(wildcards.variant, wildcards.dataset)}


def finetune_config(wildcards):
    """TrainConfig of a fine-tuning run: the benchmark's lengths (evaluate.retrieval) and the
    finetune section's optimisation (loss weights all 1 and eval mode: eao.train.finetune)."""
    f, ds = config["finetune"], config["finetune"]["datasets"][wildcards.dataset]
    e, p = config["evaluate"]["retrieval"][wildcards.dataset], variant_section(wildcards.variant, "pretrain")
    return json.dumps({"epochs": ds["epochs"], "lr": ds["lr"], "lr_gamma": ds["lr_gamma"],
                       "batch_videos": ds["batch_videos"], "video_tokens": e["video_tokens"],
                       "audio_frames": e["audio_frames"], "max_words": p["max_words"],
                       "precision": f["precision"], "workers": f["workers"], "seed": p["seed"],
                       "log_every_steps": 1}, sort_keys=True)


def finetune_options(wildcards):
    ds = config["finetune"]["datasets"][wildcards.dataset]
    options = ["--clips", config["evaluate"]["retrieval"][wildcards.dataset]["clips"],
               "--split", ds["split"], "--device", config["finetune"]["device"]]
    return options + (["--all-clips"] if ds.get("all_clips") else [])


# -- evaluation ------------------------------------------------------------------------------------
def retrieval_datasets():
    """Retrieval benchmarks of the config that are among the datasets and have captions."""
    return [name for name in config["evaluate"]["retrieval"]
            if config["datasets"].get(name, {}).get("captions")]


def finetune_datasets():
    return [name for name in retrieval_datasets() if name in config["finetune"].get("datasets", {})]


def localization_datasets():
    return [name for name in config["evaluate"]["localization"]
            if config["datasets"].get(name, {}).get("captions")]


def long_video_variants():
    """Table 6: the strategies are evaluated for main and (when run) the pos_emb variant."""
    return [v for v in ("main", "pos_emb") if v in variant_names()]


def evaluation_outputs():
    out = []
    zs = "results/evaluate/retrieval/zeroshot/{variant}/{dataset}/{strategy}.json"
    # learned positional embeddings have a fixed length: those models see only Table 6's strategies
    at_once = [v for v in variant_names() if variant_section(v, "model").get("positional") != "learned"]
    out += expand(zs, variant=at_once, dataset=retrieval_datasets(), strategy="at_once")
    out += expand(zs, variant=long_video_variants(), dataset=retrieval_datasets(),
                  strategy=config["evaluate"]["long_videos"].get("strategies", []))
    out += expand("results/evaluate/retrieval/finetuned/{variant}/{dataset}/at_once.json",
                  variant=finetune_variants(), dataset=finetune_datasets())
    out += expand("results/evaluate/localization/{variant}/{dataset}.json", variant="main",
                  dataset=localization_datasets())
    return out


def retrieval_inputs(wildcards):
    """The model (pretrained or fine-tuned) and the benchmark's shards of its backbones."""
    if wildcards.stage == "zeroshot":
        model = f"results/pretrain/{wildcards.variant}/model.pt"
    else:
        model = f"results/finetune/{wildcards.variant}/{wildcards.dataset}/model.pt"
    return {"model": model, "manifest": f"results/manifest/{wildcards.dataset}/videos.parquet",
            **feature_inputs(wildcards.variant, wildcards.dataset)}


def retrieval_options(wildcards):
    e = config["evaluate"]["retrieval"][wildcards.dataset]
    long = config["evaluate"]["long_videos"]
    split = e.get("split")
    if wildcards.stage == "finetuned":
        split = config["finetune"]["datasets"][wildcards.dataset]["test_split"]
    options = ["--clips", e["clips"], "--video-tokens", str(e["video_tokens"]),
               "--audio-frames", str(e["audio_frames"]),
               "--max-words", str(variant_section(wildcards.variant, "pretrain")["max_words"]),
               "--device", config["evaluate"]["device"], "--strategy", wildcards.strategy,
               "--strategy-tokens", str(long["strategy_tokens"]), "--clip-seconds", str(long["clip_seconds"]),
               # a train-length clip has the training's spectrogram length
               "--clip-frames", str(variant_section(wildcards.variant, "pretrain")["audio_frames"])]
    if long.get("max_clips"):
        options += ["--max-clips", str(long["max_clips"])]
    if split:
        options += ["--split", split]
    if e.get("complete_size"):
        options += ["--complete-size", str(e["complete_size"])]
    return options


def localization_inputs(wildcards):
    return {"model": f"results/pretrain/{wildcards.variant}/model.pt",
            "manifest": f"results/manifest/{wildcards.dataset}/videos.parquet",
            "annotations": config["datasets"][wildcards.dataset]["captions"],
            **feature_inputs(wildcards.variant, wildcards.dataset)}


def localization_options(wildcards):
    e = config["evaluate"]["localization"][wildcards.dataset]
    options = ["--benchmark", wildcards.dataset, "--video-tokens", str(e["video_tokens"]),
               "--audio-frames", str(e["audio_frames"]), "--radius", str(e["radius"]),
               "--temperature", str(e["temperature"]), "--softmax-over", e["softmax_over"],
               "--background", e["background"],
               "--steps", e["steps"], "--max-words", str(variant_section(wildcards.variant, "pretrain")["max_words"]),
               "--device", config["evaluate"]["device"]]
    if e.get("exclude_val"):
        options.append("--exclude-val")
    if e.get("test_list"):
        options += ["--test-list", e["test_list"]]
    return options


# -- tables ----------------------------------------------------------------------------------------
TABLE_NAMES = ["table1_zeroshot_retrieval", "table2_finetuned_retrieval", "table3_step_localization",
               "table4_components", "table5_token_aggregation", "table6_long_videos",
               "supp_table1_clip_backbones", "supp_table2_segmentation", "supp_table3_crosstask_per_task",
               "supp_table4_fusion_size", "supp_table5_text_audio", "supp_table6_rope"]
TABLE_FILES = expand("results/tables/{name}.{ext}", name=TABLE_NAMES, ext=["md", "tex", "csv"]) + [
    "results/tables/index.md"
]


validate_variants()


# -- search index ----------------------------------------------------------------------------------
def index_inputs(wildcards):
    return {"model": "results/pretrain/main/model.pt",
            "manifest": f"results/manifest/{wildcards.dataset}/videos.parquet",
            **feature_inputs("main", wildcards.dataset)}


def index_options(wildcards):
    i, p = config["index"], config["pretrain"]
    return ["--window-s", str(i["window_s"]), "--stride-s", str(i["stride_s"]),
            "--video-tokens", str(i["video_tokens"]), "--audio-frames", str(i["audio_frames"]),
            "--max-words", str(p["max_words"]), "--device", config["evaluate"]["device"]]


def index_outputs():
    return [f"results/index/{name}.parquet" for name in config["index"]["datasets"]]


def report_metrics():
    """metrics.jsonl of every variant trained in this run (an imported main has none)."""
    trained = [v for v in pretrained_variants() if not (v == "main" and imported_checkpoint())]
    return [f"results/pretrain/{v}/metrics.jsonl" for v in trained]


def report_retrieval():
    """The retrieval results the recall figures plot: every model, all tokens at once."""
    return [p for p in evaluation_outputs() if os.path.basename(p) == "at_once.json"]


def attention_dataset():
    """The benchmark whose caption clips the attention analysis uses (YouCook2 when there)."""
    names = retrieval_datasets()
    return "youcook2" if "youcook2" in names else names[0]


def report_inputs(wildcards):
    inputs = {"metrics": report_metrics(), "retrieval": report_retrieval(),
              "model": "results/pretrain/main/model.pt",
              "attention_features": sum(feature_inputs("main", attention_dataset()).values(), [])}
    if config["index"]["datasets"]:
        name = config["index"]["datasets"][0]
        inputs["index"] = f"results/index/{name}.parquet"
        inputs["captions"] = f"results/manifest/{name}/captions.parquet"
    return inputs


def report_options(wildcards, input):
    p, e = config["pretrain"], config["evaluate"]["retrieval"][attention_dataset()]
    options = ["--datasets", *retrieval_datasets(), "--attention-dataset", attention_dataset(),
               "--backbones", p.get("video_2d") or "", p.get("video_3d") or "",
               p.get("audio") or "", f"text_{p['text']}", "--video-tokens", str(e["video_tokens"]),
               "--audio-frames", str(e["audio_frames"]), "--max-words", str(p["max_words"])]
    if config["index"]["datasets"]:
        options += ["--index", input.index, "--captions", input.captions]
    return options


def report_outputs():
    figures = ["training", "attention"] + [f"recall_{d}" for d in retrieval_datasets()]
    if config["index"]["datasets"]:
        figures.append("retrieval_grid")
    return [f"results/report/{name}.png" for name in figures]


def tables_config(wildcards):
    """What the tables need to know about this run: which datasets and variants exist."""
    variants = {"main": {"description": "the paper's model"}, **config["ablations"].get("variants", {})}
    return json.dumps({"datasets": sorted(config["datasets"]), "ablations_run": config["ablations"].get("run", []),
                       "variants": variants, "pretrain": config["pretrain"],
                       "finetune_variants": finetune_variants()}, sort_keys=True)
