"""The demo's part of a run's config, generated from the demo world's layout.

With `demo.enabled`, the run gets the demo world's five datasets (their files under
results/demo_world) and the settings keyed by their names: the benchmarks' retrieval and
localization protocols, fine-tuning, and the search index of the YouCook2-like videos. They are
not written in config.yaml because Snakemake merges a user's `--configfile` into config.yaml key
by key: a user's `datasets.youcook2.imported` would have kept the demo's videos and root beside
it, and `demo.enabled: false` would have left the demo's datasets in the run.

How they combine with the user's config (`apply_demo`): a dataset the config names replaces the
demo's dataset of that name as a whole, and with it the demo's settings for that name (a real
YouCook2 gets the paper's protocol, the schema's default, not the demo's); a protocol entry the
config names replaces the demo's entry; `index.datasets`, a list, is the config's when it names
one. `demo.enabled: false` adds nothing.
"""

from __future__ import annotations

import copy

from eao.demo.world import DATASETS as DEMO_DATASETS
from eao.workflow.demo_files import DEMO_DIR

# Each demo dataset's captions file under its folder and that file's layout (captions_format;
# howto is the schema's default, so it is not written).
CAPTIONS = {
    "howto": ("caption.json", None),
    "youcook2": ("youcookii_annotations_trainval.json", "youcook2"),
    "msrvtt": ("MSRVTT_data.json", "msrvtt"),
    "crosstask": ("crosstask_release/tasks_primary.txt", "crosstask"),
    "mining_youtube": ("weakYouTube_dict.txt", "mining_youtube"),
}
# The demo's protocols, keyed by dataset. Its videos are ~10 s long with 1-2 s steps and its
# model trains on 2-s clips, so a clip has a few tokens. Zero-shot, all of its few clips are
# ranked (split null): the validation/test splits alone are too small to rank.
PROTOCOLS: dict[tuple[str, str], dict[str, dict]] = {
    ("evaluate", "retrieval"): {
        "youcook2": {"split": None, "clips": "segments", "video_tokens": 6, "audio_frames": 512},
        "msrvtt": {"split": None, "clips": "videos", "video_tokens": 6, "audio_frames": 384},
    },
    # 3-s windows: at most 5 video tokens, 300 frames
    ("evaluate", "localization"): {
        "crosstask": {"video_tokens": 5, "audio_frames": 320},
        "mining_youtube": {"video_tokens": 5, "audio_frames": 320},
    },
    # the demo's training splits hold a few dozen clips
    ("finetune", "datasets"): {
        "youcook2": {
            "split": "training",
            "test_split": "validation",
            "epochs": 10,
            "lr": 1.0e-4,
            "batch_videos": 16,
        },
        "msrvtt": {
            "split": "train",
            "test_split": "test",
            "epochs": 10,
            "lr": 1.0e-4,
            "batch_videos": 8,
        },
    },
}
INDEX = ["youcook2"]  # the demo's search index: its YouCook2-like videos


def demo_dataset(name: str) -> dict:
    """The settings of the demo dataset `name`: the files rule demo_world writes."""
    folder = f"{DEMO_DIR}/{name}"
    captions, layout = CAPTIONS[name]
    settings = {
        "videos": f"{folder}/videos.csv",
        "root": folder,
        "captions": f"{folder}/{captions}",
    }
    return {**settings, "captions_format": layout} if layout else settings


def demo_datasets(config: dict) -> list[str]:
    """The demo's datasets in this run: all five with demo.enabled, less those the config
    names (its own entry replaces the demo's)."""
    if not (config.get("demo") or {}).get("enabled"):
        return []
    named = config.get("datasets") or {}
    return [name for name in DEMO_DATASETS if name not in named]


def _child(node: dict, key: str) -> dict:
    """node[key], a dict: made when absent or empty (`evaluate:` with nothing under it)."""
    if node.get(key) is None:
        node[key] = {}
    return node[key]


def apply_demo(config: dict, schema: dict) -> None:
    """Add the demo's datasets and their settings to `config` (Snakemake's config: config.yaml
    and the user's files merged, before the schema's defaults), in place, under what the config
    names. A protocol map the config leaves out would get the schema's default (the paper's
    protocols); the demo's entries go on top of that default, so a benchmark the config
    replaces keeps the paper's protocol."""
    ours = demo_datasets(config)
    if not ours:
        return
    config["datasets"] = {**{n: demo_dataset(n) for n in ours}, **(config.get("datasets") or {})}
    for path, entries in PROTOCOLS.items():
        section, key = path
        parent = _child(config, section)
        default = schema_default(schema, path)
        demo = {n: copy.deepcopy(v) for n, v in entries.items() if n in ours}
        parent[key] = {**default, **demo, **(parent.get(key) or {})}
    index = _child(config, "index")
    if index.get("datasets") is None:
        index["datasets"] = [n for n in INDEX if n in ours]


def schema_default(schema: dict, path: tuple[str, ...]) -> dict:
    """The schema's default of the map at `path` (e.g. evaluate.retrieval), a copy."""
    node = schema
    for part in path:
        node = node["properties"][part]
    return copy.deepcopy(node.get("default", {}))
