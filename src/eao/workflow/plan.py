"""What a run makes: its datasets and their shards, the backbones and text encoders extracted,
each rule's inputs and the workflow's output lists. Plain functions of the validated config (the
schema's defaults filled, as snakemake's validate leaves it); `shards` is the one that reads
files (the videos CSVs), so the others take its result.

Shard ids are computed when the DAG is built, from the videos CSV (or, before the demo world
exists, from its plan), so `snakemake -n` shows every per-shard job and there is no checkpoint.
"""

from __future__ import annotations

import itertools
import os

from eao.backbones.registry import text_encoder, text_encoders
from eao.demo.world import DemoConfig, plan_world
from eao.features.imported_tables import ALL_BACKBONES, PICKLES
from eao.ingest.manifest import count_csv_rows, shard_count
from eao.tables import TABLES
from eao.workflow import demo_files
from eao.workflow.passes import enabled_backbones
from eao.workflow.variants import (
    finetune_variants,
    localization_variants,
    long_video_variants,
    pretrained_variants,
    variant_names,
    variant_section,
)

TEXT_ENCODERS = list(text_encoders())  # rule extract_text's {encoder}
RELEASED_BACKBONES = ALL_BACKBONES  # rule import_features' {backbone}: those a pickle holds
TABLE_NAMES = [table.name for table in TABLES]
TABLE_FILES = [
    f"results/tables/{name}.{ext}" for name in TABLE_NAMES for ext in ("md", "tex", "csv")
] + ["results/tables/index.md"]

Shards = dict[str, list[str]]


def paths(pattern: str, **values) -> list[str]:
    """snakemake's expand: `pattern` formatted with every combination of the values (the first
    keyword outermost; a string is one value)."""
    names = list(values)
    lists = [[v] if isinstance(v, str) else list(v) for v in values.values()]
    return [
        pattern.format(**dict(zip(names, combo, strict=True)))
        for combo in itertools.product(*lists)
    ]


def one_of(names: list[str]) -> str:
    """A wildcard regex matching exactly these names (none: a regex that matches nothing)."""
    return "|".join(names) if names else "(?!)"


# -- datasets and shards -------------------------------------------------------------------------
def imported(config: dict, name: str) -> dict | None:
    """The released-features settings of dataset `name` (datasets.<name>.imported), or None."""
    return config["datasets"][name].get("imported")


def captioned(config: dict, name: str) -> bool:
    """Whether the dataset has captions: a captions file, or the captions of imported features."""
    ds = config["datasets"].get(name, {})
    return bool(ds.get("captions") or ds.get("imported"))


def video_datasets(config: dict) -> list[str]:
    return sorted(n for n in config["datasets"] if not imported(config, n))


def imported_datasets(config: dict) -> list[str]:
    return sorted(n for n in config["datasets"] if imported(config, n))


def demo_planned_count(config: dict, videos_csv: str) -> int | None:
    """Videos the demo world will write to `videos_csv`, or None if it is not a demo file."""
    name = demo_files.demo_dataset(videos_csv)
    if name is None or not config["demo"]["enabled"]:
        return None
    return len(plan_world(DemoConfig.from_config(config["demo"])).videos[name])


def video_count(config: dict, name: str) -> int:
    """The dataset's videos: its CSV's rows, or the demo world's plan for a file it will write;
    ValueError when the CSV is neither there nor the demo world's."""
    if imported(config, name):
        return 1  # an imported dataset is one shard, whatever its size
    csv_path = config["datasets"][name]["videos"]
    planned = demo_planned_count(config, csv_path)
    if planned is not None:
        return planned
    if not os.path.exists(csv_path):
        raise ValueError(
            f"dataset {name}: videos CSV {csv_path} does not exist "
            "(and it is not a file the demo world writes)"
        )
    return count_csv_rows(csv_path)


def shards(config: dict) -> Shards:
    """Each dataset's shard ids ("00000", ...), datasets sorted."""
    return {
        name: [
            f"{i:05d}" for i in range(shard_count(video_count(config, name), config["shard_size"]))
        ]
        for name in sorted(config["datasets"])
    }


# -- backbones and text encoders -----------------------------------------------------------------
def encoder_config(config: dict, encoder: str) -> dict:
    """A text encoder's settings: off, random weights and seed 0 unless features.text.<name>
    says otherwise (a text encoder is extracted only when a config enables it)."""
    text_encoder(encoder)  # KeyError naming the known ones
    defaults = {"enabled": False, "weights": "random", "seed": 0}
    return {**defaults, **config["features"]["text"].get(encoder, {})}


def enabled_text_encoders(config: dict) -> list[str]:
    return [e for e in text_encoders() if encoder_config(config, e)["enabled"]]


def dataset_backbones(config: dict, schema: dict, name: str) -> list[str]:
    """The media backbones a dataset has shards of: the enabled ones, extracted from its videos,
    or those its imported pickles hold."""
    spec = imported(config, name)
    if spec:
        return [b for key, bs in PICKLES.items() if spec.get(key) for b in bs]
    return enabled_backbones(config)


# -- inputs ----------------------------------------------------------------------------------------
def probe_failures(shards: Shards, name: str) -> list[str]:
    return paths(
        "results/probe/{dataset}/failures-{shard}.parquet", dataset=name, shard=shards[name]
    )


def extract_failures(config: dict, schema: dict, shards: Shards, name: str) -> list[str]:
    """Failures tables of every extraction job of a dataset (the failures rule gathers them)."""
    out = []
    for backbone in dataset_backbones(config, schema, name):
        out += paths(
            f"results/features/{backbone}/{name}/failures-{{shard}}.parquet", shard=shards[name]
        )
    if captioned(config, name):
        for encoder in enabled_text_encoders(config):
            out += paths(
                f"results/features/text_{encoder}/{name}/failures-{{shard}}.parquet",
                shard=shards[name],
            )
    return out


def shards_of(shards: Shards, backbone: str | None, name: str) -> list[str]:
    if not backbone:
        return []
    return paths(f"results/features/{backbone}/{name}/shard-{{shard}}.parquet", shard=shards[name])


def feature_inputs(config: dict, shards: Shards, variant: str, name: str) -> dict[str, list[str]]:
    """The dataset's shards of the backbones the variant is trained on."""
    p = variant_section(config, variant, "pretrain")
    return {
        "video_2d": shards_of(shards, p["video_2d"], name),
        "video_3d": shards_of(shards, p["video_3d"], name),
        "audio": shards_of(shards, p["audio"], name),
        "text": shards_of(shards, f"text_{p['text']}", name),
    }


def manifest(name: str) -> str:
    return f"results/manifest/{name}/videos.parquet"


def pretrain_inputs(config: dict, shards: Shards, variant: str) -> dict[str, list[str]]:
    corpus = variant_section(config, variant, "pretrain")["dataset"]
    return feature_inputs(config, shards, variant, corpus)


def finetune_inputs(config: dict, shards: Shards, variant: str, name: str) -> dict:
    return {
        "init": f"results/pretrain/{variant}/model.pt",
        "manifest": manifest(name),
        **feature_inputs(config, shards, variant, name),
    }


def retrieval_inputs(config: dict, shards: Shards, stage: str, variant: str, name: str) -> dict:
    """The model (pretrained or fine-tuned) and the benchmark's shards of its backbones."""
    if stage == "zeroshot":
        model = f"results/pretrain/{variant}/model.pt"
    else:
        model = f"results/finetune/{variant}/{name}/model.pt"
    return {
        "model": model,
        "manifest": manifest(name),
        **feature_inputs(config, shards, variant, name),
    }


def localization_inputs(config: dict, shards: Shards, variant: str, name: str) -> dict:
    return {
        "model": f"results/pretrain/{variant}/model.pt",
        "manifest": manifest(name),
        "annotations": config["datasets"][name]["captions"],
        # the files the benchmark's reader finds beside the annotations (the demo's)
        "release": demo_files.release_files(config, name),
        # CrossTask's list of test videos, when one is given: read by the tool, so an input
        "test_list": [t] if (t := config["evaluate"]["localization"][name]["test_list"]) else [],
        **feature_inputs(config, shards, variant, name),
    }


def index_inputs(config: dict, shards: Shards, name: str) -> dict:
    return {
        "model": "results/pretrain/main/model.pt",
        "manifest": manifest(name),
        **feature_inputs(config, shards, "main", name),
    }


# -- evaluation and outputs ------------------------------------------------------------------------
def imported_checkpoint(config: dict) -> str | None:
    """A released EAO checkpoint (pretrain.checkpoint) that stands in for the main model."""
    return config["pretrain"]["checkpoint"]


def can_pretrain(config: dict) -> bool:
    """The main model exists when it is imported, or when its corpus is among the datasets with
    captions (a config of only your own uncaptioned videos stops after extraction)."""
    corpus = config["datasets"].get(config["pretrain"]["dataset"])
    return bool(imported_checkpoint(config) or (corpus and corpus.get("captions")))


def pretrainable_variants(config: dict) -> list[str]:
    """The variants rule pretrain may train (its wildcard's values): main unless imported, and
    every variant defined, each when its corpus is a dataset of the config. Snakemake calls a
    rule's input function for every output it might make, so a name outside these would print
    an exception it then ignores (main under an imported checkpoint, a corpus left out)."""
    names = ["main", *config["ablations"]["variants"]]
    if imported_checkpoint(config):
        names.remove("main")
    corpora = {v: variant_section(config, v, "pretrain")["dataset"] for v in names}
    return [v for v in names if corpora[v] in config["datasets"]]


def retrieval_datasets(config: dict) -> list[str]:
    """Retrieval benchmarks of the config that are among the datasets and have captions, sorted
    (params are compared as text: a config rewritten in another key order must not rerun)."""
    return [name for name in sorted(config["evaluate"]["retrieval"]) if captioned(config, name)]


def finetune_datasets(config: dict) -> list[str]:
    """The retrieval benchmarks with fine-tuning settings, except released features (imported):
    they hold an evaluation split only (a config naming one is refused: eao.workflow.checks)."""
    settings = config["finetune"]["datasets"]
    return [n for n in retrieval_datasets(config) if n in settings and not imported(config, n)]


def localization_datasets(config: dict) -> list[str]:
    return [name for name in sorted(config["evaluate"]["localization"]) if captioned(config, name)]


def evaluation_outputs(config: dict) -> list[str]:
    zs = "results/evaluate/retrieval/zeroshot/{variant}/{dataset}/{strategy}.json"
    # learned positional embeddings have a fixed length: those models see only Table 6's strategies
    at_once = [
        v
        for v in variant_names(config)
        if variant_section(config, v, "model")["positional"] != "learned"
    ]
    retrieval = retrieval_datasets(config)
    out = paths(zs, variant=at_once, dataset=retrieval, strategy="at_once")
    out += paths(
        zs,
        variant=long_video_variants(config),
        dataset=retrieval,
        strategy=config["evaluate"]["long_videos"]["strategies"],
    )
    out += paths(
        "results/evaluate/retrieval/finetuned/{variant}/{dataset}/at_once.json",
        variant=finetune_variants(config),
        dataset=finetune_datasets(config),
    )
    out += paths(
        "results/evaluate/localization/{variant}/{dataset}.json",
        variant=localization_variants(config),
        dataset=localization_datasets(config),
    )
    return out


def index_outputs(config: dict) -> list[str]:
    return [f"results/index/{name}.parquet" for name in config["index"]["datasets"]]


def report_outputs(config: dict) -> list[str]:
    figures = ["training", "attention"] + [f"recall_{d}" for d in retrieval_datasets(config)]
    if config["index"]["datasets"]:
        figures.append("retrieval_grid")
    return [f"results/report/{name}.png" for name in figures]


def all_outputs(config: dict, schema: dict, shards: Shards) -> list[str]:
    """rule all's targets: every shard and failures table and, when the main model can exist,
    the models, evaluations, tables, search indexes and report figures."""
    out = []
    for name, ids in shards.items():
        out += paths("results/probe/{dataset}/shard-{shard}.parquet", dataset=name, shard=ids)
        for backbone in dataset_backbones(config, schema, name):
            out += paths(f"results/features/{backbone}/{name}/shard-{{shard}}.parquet", shard=ids)
        if captioned(config, name):
            for encoder in enabled_text_encoders(config):
                out += paths(
                    f"results/features/text_{encoder}/{name}/shard-{{shard}}.parquet", shard=ids
                )
        out.append(f"results/failures/{name}.parquet")
    if can_pretrain(config):
        out += paths("results/pretrain/{variant}/model.pt", variant=pretrained_variants(config))
        out += evaluation_outputs(config)
        out += TABLE_FILES + [f"results/tables/{name}.html" for name in TABLE_NAMES]
        out += index_outputs(config)
        if retrieval_datasets(config):  # the figures need a retrieval benchmark
            out += report_outputs(config)
    return out


def attention_dataset(config: dict) -> str:
    """The benchmark whose caption clips the attention analysis uses (YouCook2 when there)."""
    names = retrieval_datasets(config)
    return "youcook2" if "youcook2" in names else names[0]


def report_inputs(config: dict, shards: Shards) -> dict:
    """The figures' inputs: metrics.jsonl of every variant trained in this run (an imported main
    has none), the retrieval results of every model with all tokens at once, the main model and
    its features of the attention benchmark (video_2d, video_3d, audio, text), and the first
    search index with its captions and the videos its thumbnails are cut from (the demo's)."""
    trained = [
        v for v in pretrained_variants(config) if not (v == "main" and imported_checkpoint(config))
    ]
    inputs = {
        "metrics": [f"results/pretrain/{v}/metrics.jsonl" for v in trained],
        "retrieval": [
            p for p in evaluation_outputs(config) if os.path.basename(p) == "at_once.json"
        ],
        "model": "results/pretrain/main/model.pt",
        **feature_inputs(config, shards, "main", attention_dataset(config)),
    }
    if config["index"]["datasets"]:
        name = config["index"]["datasets"][0]
        inputs["index"] = f"results/index/{name}.parquet"
        inputs["captions"] = f"results/manifest/{name}/captions.parquet"
        inputs["videos"] = demo_files.videos(config, name)
    return inputs
