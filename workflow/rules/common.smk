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
from eao.workflow.config import (UnknownDataset, check_dataset, check_dataset_references,
                                 check_dataset_sources, coerce_cli_strings,
                                 coerce_variant_overrides)


with open(os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")) as f:
    SCHEMA = yaml.safe_load(f)


def validate_config():
    """Validate against the schema (filling defaults); on error name the key, not the schema dump.
    Nested `--config` values arrive as strings (YAML BaseLoader): they are read again first."""
    config.update(coerce_cli_strings(dict(config), SCHEMA, SCHEMA))
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


GIVEN = json.loads(json.dumps(dict(config)))  # the user's config, before the schema's defaults
validate_config()
try:
    check_dataset_sources(config)
except ValueError as e:
    raise WorkflowError(str(e)) from None
coerce_variant_overrides(config, SCHEMA)
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
    w2v=r"[^/]+",
    stage=r"zeroshot|finetuned",
    strategy=r"at_once|uniform|max_pool|clips",


EAO_VERSION = eao.__version__
MEDIA_BACKBONES = ["resnet152", "resnext101", "clip", "s3d", "logmel"]  # all from rule extract_media
VISUAL_BACKBONES = MEDIA_BACKBONES[:4]
S3D_KEYS = ["recipe", "output", "size"]  # S3D's settings beyond weights and seed
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


def imported(name):
    """The released-features settings of dataset `name` (datasets.<name>.imported), or None."""
    return config["datasets"][name].get("imported")


def captioned(name):
    """Whether the dataset has captions: a captions file, or the captions of imported features."""
    ds = config["datasets"].get(name, {})
    return bool(ds.get("captions") or ds.get("imported"))


def one_of(names):
    """A wildcard regex matching exactly these names (none: a regex that matches nothing)."""
    return "|".join(names) if names else "(?!)"


VIDEO_DATASETS = sorted(n for n in config["datasets"] if not imported(n))
IMPORTED_DATASETS = sorted(n for n in config["datasets"] if imported(n))
IMPORTED_BACKBONES = {"resnet": ["resnet152", "resnext101", "logmel"], "clip": ["clip"], "s3d": ["s3d"]}


def video_count(dataset):
    if imported(dataset):
        return 1  # an imported dataset is one shard, whatever its size
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


def dataset(name, where="target"):
    """The settings of dataset `name`; an unknown name stops the DAG with the known ones named."""
    try:
        return check_dataset(config, name, where)
    except UnknownDataset as e:
        raise WorkflowError(str(e)) from None


def probe_failures(wildcards):
    dataset(wildcards.dataset)
    return expand(
        "results/probe/{dataset}/failures-{shard}.parquet",
        dataset=wildcards.dataset,
        shard=SHARDS[wildcards.dataset],
    )


def captions_arg(wildcards):
    ds = dataset(wildcards.dataset)
    if not ds.get("captions"):
        return []
    return ["--captions", ds["captions"], "--captions-format", ds.get("captions_format", "howto")]


def dataset_root(wildcards):
    return dataset(wildcards.dataset)["root"]


def demo_out_dir(wildcards, output):
    return os.path.dirname(output.world)


def demo_json(wildcards):
    """The world's settings (`enabled` says whether to make it, not what it is)."""
    return json.dumps({k: v for k, v in config["demo"].items() if k != "enabled"}, sort_keys=True)


def dataset_inputs(wildcards):
    ds = dataset(wildcards.dataset)
    inputs = {"videos": ds["videos"]}
    if ds.get("captions"):
        inputs["captions"] = ds["captions"]
    return inputs


# -- recorded params and runtime settings ------------------------------------------------------
# Snakemake records a rule's params and reruns a job when they change, except params computed
# by a function of input, output, threads or resources ("derived": their changes are meant to
# show up as input changes). Every setting that can change an output is therefore a plain param
# (or a function of wildcards only); settings that change no output (batch sizes where results
# are batch-invariant, data-loader workers, stall timeouts, how often to checkpoint) go through
# a `runtime` param that is a function of threads, on purpose, so changing them reruns nothing.
# The schema's x-reruns says for every key which rules it reruns (tests/test_config_keys.py).
# snakemake's validate does not fill defaults behind a $ref: the extractors' come from $defs
DEFS_DEFAULTS = {name: {k: v["default"] for k, v in d["properties"].items() if "default" in v}
                 for name, d in SCHEMA["$defs"].items()}


def backbone_config(backbone):
    defaults = DEFS_DEFAULTS.get(backbone, DEFS_DEFAULTS["visual"]) if backbone != "logmel" else {"enabled": True}
    return {**defaults, **config["features"].get(backbone, {})}


def encoder_config(encoder):
    defaults = DEFS_DEFAULTS.get(encoder, DEFS_DEFAULTS["text"])  # word2vec has its own def
    return {**defaults, **config["features"]["text"].get(encoder, {})}


def media_settings():
    """Every media backbone's output-affecting settings, enabled or not (extract_media's recorded
    params): a backbone switched off changes no setting of the others, so nothing reruns."""
    feats = config["features"]
    settings = {"device": feats["device"], "bf16": feats["bf16"], "decoder": feats["decoder"]}
    for backbone in VISUAL_BACKBONES:
        cfg = backbone_config(backbone)
        keys = ["weights", "seed"] + (S3D_KEYS if backbone == "s3d" else [])
        settings[backbone] = {k: cfg[k] for k in keys}
    return settings


def media_outputs():
    """extract_media's outputs: each enabled backbone's shard and failures table."""
    outputs = {}
    for b in enabled_backbones():
        outputs[b] = f"results/features/{b}/{{dataset}}/shard-{{shard}}.parquet"
        outputs[f"{b}_failures"] = f"results/features/{b}/{{dataset}}/failures-{{shard}}.parquet"
    return outputs


def media_args(wildcards, output):
    """The flags of `eao.features.extract` for the backbones of this job (derived from the
    outputs, so not recorded; the settings they carry are, in media_settings)."""
    settings = media_settings()
    args = ["--device", settings["device"], "--decoder", settings["decoder"]]
    args += ["--bf16"] if settings["bf16"] else []
    for b in enabled_backbones():
        failures = output[f"{b}_failures"]
        args += ["--backbone", b, "--out", f"{b}={output[b]}", "--out-failures", f"{b}={failures}"]
        if b != "logmel":
            args += ["--weights", f"{b}={settings[b]['weights']}", "--seed", f"{b}={settings[b]['seed']}"]
        if b == "s3d":
            args += [arg for k in S3D_KEYS for arg in (f"--s3d-{k}", str(settings[b][k]))]
    return args


def extract_runtime(wildcards, threads):
    """Extraction settings that change no output: frames per forward pass (eval-mode backbones
    give the same features in any batch, up to float rounding) and the ffmpeg stall timeout."""
    feats = config["features"]
    return ["--batch-size", str(feats["batch_size"]), "--stall-timeout-s", str(feats["stall_timeout_s"])]


def word2vec_source():
    """The word2vec file the config names, or None: nothing to convert for random vectors or a
    folder that is converted already."""
    weights = encoder_config("word2vec")["weights"]
    return None if weights.strip().lower() == "random" or os.path.isdir(weights) else weights


def word2vec_converted():
    """Where rule convert_word2vec puts the word2vec file, converted for memory-mapped loading
    (eao.backbones.word2vec): every extract_text job reads that instead of parsing and hashing
    the 3.6 GB binary."""
    name = os.path.basename(word2vec_source().rstrip("/"))
    for suffix in (".gz", ".bz2", ".bin", ".txt", ".vec"):
        name = name.removesuffix(suffix)
    return f"results/word2vec/{name}.kv"


def text_weights(encoder):
    """The --weights of extract_text: the converted folder for a word2vec file."""
    if encoder == "word2vec" and word2vec_source():
        return word2vec_converted()
    return encoder_config(encoder)["weights"]


def text_weights_input(wildcards):
    return [word2vec_converted()] if wildcards.encoder == "word2vec" and word2vec_source() else []


def text_options(wildcards):
    feats, cfg = config["features"], encoder_config(wildcards.encoder)
    weights = text_weights(wildcards.encoder)
    options = ["--device", feats["device"], "--weights", weights, "--seed", str(cfg["seed"])]
    if cfg.get("tokenizer"):
        options += ["--tokenizer", cfg["tokenizer"]]
    return options


def enabled_backbones():
    return [b for b in MEDIA_BACKBONES if backbone_config(b)["enabled"]]


def dataset_backbones(name):
    """The media backbones a dataset has shards of: the enabled ones, extracted from its videos,
    or those its imported pickles hold."""
    if imported(name):
        return [b for key, bs in IMPORTED_BACKBONES.items() if imported(name).get(key) for b in bs]
    return enabled_backbones()


def import_pickle(wildcards):
    """The pickles one import job reads: the ResNet pickle (ids, captions, the clips kept) and,
    for a CLIP or S3D shard, that backbone's pickle."""
    dataset(wildcards.dataset)
    spec = imported(wildcards.dataset)
    key = {"clip": "clip", "s3d": "s3d"}.get(wildcards.get("backbone"), "resnet")
    return {"resnet": spec["resnet"], **({key: spec[key]} if key != "resnet" else {})}


def import_args(wildcards, input):
    """`--pickle KEY=PATH` for each pickle the job reads."""
    return [arg for key, path in input.items() for arg in ("--pickle", f"{key}={path}")]


def enabled_text_encoders():
    return [e for e in TEXT_ENCODERS if encoder_config(e)["enabled"]]


def extract_failures(wildcards):
    """Failures tables of every extraction job of a dataset (the failures rule gathers them)."""
    dataset(wildcards.dataset)
    name, shards = wildcards.dataset, SHARDS[wildcards.dataset]
    paths = []
    for backbone in dataset_backbones(name):
        paths += expand(f"results/features/{backbone}/{name}/failures-{{shard}}.parquet", shard=shards)
    if captioned(name):
        for encoder in enabled_text_encoders():
            paths += expand(f"results/features/text_{encoder}/{name}/failures-{{shard}}.parquet", shard=shards)
    return paths


def all_outputs():
    outputs = []
    for name, shards in SHARDS.items():
        outputs += expand("results/probe/{dataset}/shard-{shard}.parquet", dataset=name, shard=shards)
        for backbone in dataset_backbones(name):
            outputs += expand(f"results/features/{backbone}/{name}/shard-{{shard}}.parquet", shard=shards)
        if captioned(name):
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
# TrainConfig keys that change no output: clips are sampled from (seed, epoch, video) keys in
# the main process, so any number of loader workers gives the same batches; checkpoints only
# make a run resumable. log_every_steps stays recorded: it changes metrics.jsonl.
TRAIN_RUNTIME_KEYS = ["workers", "checkpoint_every_steps"]
# The pretrain settings that describe a trained model: the tables quote them in their notes.
MODEL_DEFINING_KEYS = ["dataset", "checkpoint", "video_2d", "video_3d", "audio", "text"] + [
    k for k in TRAIN_KEYS if k not in TRAIN_RUNTIME_KEYS + ["log_every_steps"]]


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
    """The recorded TrainConfig part of the variant's pretrain section (the rest says where
    and on what, or changes no output)."""
    p = variant_section(wildcards.variant, "pretrain")
    # params are compared as text: sorted keys, so a config file rewritten in another key order
    # (yaml.safe_dump sorts) does not rerun the models
    recorded = [k for k in TRAIN_KEYS if k not in TRAIN_RUNTIME_KEYS]
    return json.dumps({k: p[k] for k in recorded}, sort_keys=True)


def train_runtime(wildcards, threads):
    """The whole TrainConfig JSON the job gets: the recorded part and the runtime keys."""
    p = variant_section(wildcards.variant, "pretrain")
    return json.dumps({k: p[k] for k in TRAIN_KEYS}, sort_keys=True)


def pretrain_processes(wildcards):
    """Training processes (recorded: under DDP each rank keeps its own BatchNorm statistics)."""
    return max(1, config["pretrain"]["gpus"])


def model_config(wildcards):
    return json.dumps(variant_section(wildcards.variant, "model"), sort_keys=True)


def shards_of(backbone, name):
    if not backbone:
        return []
    dataset(name)
    return expand(f"results/features/{backbone}/{name}/shard-{{shard}}.parquet", shard=SHARDS[name])


def feature_inputs(variant, dataset):
    """The dataset's shards of the backbones the variant is trained on."""
    p = variant_section(variant, "pretrain")
    return {"video_2d": shards_of(p.get("video_2d"), dataset), "video_3d": shards_of(p.get("video_3d"), dataset),
            "audio": shards_of(p.get("audio"), dataset), "text": shards_of(f"text_{p['text']}", dataset)}


def pretrain_inputs(wildcards):
    return feature_inputs(wildcards.variant, variant_section(wildcards.variant, "pretrain")["dataset"])


def pretrain_launcher(wildcards, threads):
    """python for one device; torchrun with one process per GPU when more are asked for."""
    gpus = config["pretrain"]["gpus"]
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


def finetune_config(wildcards, runtime=False):
    """TrainConfig of a fine-tuning run: the benchmark's lengths (evaluate.retrieval) and the
    finetune section's optimisation (loss weights all 1 and eval mode: eao.train.finetune).
    The recorded part; with `runtime`, also the loader workers (they change no output)."""
    f, ds = config["finetune"], config["finetune"]["datasets"][wildcards.dataset]
    e, p = config["evaluate"]["retrieval"][wildcards.dataset], variant_section(wildcards.variant, "pretrain")
    train = {"epochs": ds["epochs"], "lr": ds["lr"], "lr_gamma": ds["lr_gamma"],
             "batch_videos": ds["batch_videos"], "video_tokens": e["video_tokens"],
             "audio_frames": e["audio_frames"], "max_words": p["max_words"],
             "precision": f["precision"], "seed": p["seed"], "log_every_steps": 1}
    if runtime:
        train["workers"] = f["workers"]
    return json.dumps(train, sort_keys=True)


def finetune_runtime(wildcards, threads):
    return finetune_config(wildcards, runtime=True)


def finetune_options(wildcards):
    ds = config["finetune"]["datasets"][wildcards.dataset]
    options = ["--clips", config["evaluate"]["retrieval"][wildcards.dataset]["clips"],
               "--split", ds["split"], "--device", config["finetune"]["device"]]
    return options + (["--all-clips"] if ds.get("all_clips") else [])


# -- evaluation ------------------------------------------------------------------------------------
def retrieval_datasets():
    """Retrieval benchmarks of the config that are among the datasets and have captions, sorted
    (params are compared as text: a config rewritten in another key order must not rerun)."""
    return [name for name in sorted(config["evaluate"]["retrieval"])
            if captioned(name)]


def finetune_datasets():
    return [name for name in retrieval_datasets() if name in config["finetune"].get("datasets", {})]


def localization_datasets():
    return [name for name in sorted(config["evaluate"]["localization"])
            if captioned(name)]


def localization_variants():
    """Table 3: main, and the S3D variant when it is run (its 'Ours (S3D)' row)."""
    return [v for v in ("main", "s3d") if v in variant_names()]


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
    out += expand("results/evaluate/localization/{variant}/{dataset}.json",
                  variant=localization_variants(), dataset=localization_datasets())
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
    split = e.get("split")
    if wildcards.stage == "finetuned":
        split = config["finetune"]["datasets"][wildcards.dataset]["test_split"]
    options = ["--clips", e["clips"], "--video-tokens", str(e["video_tokens"]),
               "--audio-frames", str(e["audio_frames"]),
               "--max-words", str(variant_section(wildcards.variant, "pretrain")["max_words"]),
               "--device", config["evaluate"]["device"], "--strategy", wildcards.strategy]
    options += strategy_options(wildcards)
    if split:
        options += ["--split", split]
    if e.get("complete_size"):
        options += ["--complete-size", str(e["complete_size"])]
    return options


def strategy_options(wildcards):
    """The long-video settings the job's strategy uses (only those: changing the clips
    strategy's length must not rerun the all-at-once evaluations)."""
    long = config["evaluate"]["long_videos"]
    if wildcards.strategy in ("uniform", "max_pool"):
        return ["--strategy-tokens", str(long["strategy_tokens"])]
    if wildcards.strategy != "clips":
        return []
    # a train-length clip has the training's spectrogram length
    options = ["--clip-seconds", str(long["clip_seconds"]),
               "--clip-frames", str(variant_section(wildcards.variant, "pretrain")["audio_frames"])]
    if long.get("max_clips"):
        options += ["--max-clips", str(long["max_clips"])]
    return options


def localization_inputs(wildcards):
    return {"model": f"results/pretrain/{wildcards.variant}/model.pt",
            "manifest": f"results/manifest/{wildcards.dataset}/videos.parquet",
            "annotations": dataset(wildcards.dataset)["captions"],
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
    if e.get("skip_short_videos"):
        options.append("--skip-short-videos")
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
try:
    check_dataset_references(config, GIVEN)
except UnknownDataset as e:
    raise WorkflowError(f"Invalid config at {e}") from None


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


def report_options(wildcards):
    p, e = config["pretrain"], config["evaluate"]["retrieval"][attention_dataset()]
    return ["--datasets", *retrieval_datasets(), "--attention-dataset", attention_dataset(),
            "--backbones", p.get("video_2d") or "", p.get("video_3d") or "",
            p.get("audio") or "", f"text_{p['text']}", "--video-tokens", str(e["video_tokens"]),
            "--audio-frames", str(e["audio_frames"]), "--max-words", str(p["max_words"])]


def report_index_args(wildcards, input):
    """The search grid's index and captions (input paths: their changes rerun as inputs)."""
    if not config["index"]["datasets"]:
        return []
    return ["--index", input.index, "--captions", input.captions]


def report_outputs():
    figures = ["training", "attention"] + [f"recall_{d}" for d in retrieval_datasets()]
    if config["index"]["datasets"]:
        figures.append("retrieval_grid")
    return [f"results/report/{name}.png" for name in figures]


def tables_config(wildcards):
    """What the tables need to know about this run: which datasets and variants exist."""
    variants = {"main": {"description": "the paper's model"}, **config["ablations"].get("variants", {})}
    pretrain = {k: config["pretrain"][k] for k in MODEL_DEFINING_KEYS}
    # the tables read both lists as sets: sorted, so reordering them reruns nothing
    return json.dumps({"datasets": sorted(config["datasets"]),
                       "ablations_run": sorted(config["ablations"].get("run", [])),
                       "variants": variants, "pretrain": pretrain,
                       "finetune_variants": sorted(finetune_variants())}, sort_keys=True)
