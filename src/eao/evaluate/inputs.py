"""What the evaluation commands (`eao retrieval`, `eao localize`) read, and how they start: the
feature-shard options, the model and its feature tables, and the shards' provenance that the
result JSON records (so a number can be traced back to the backbone and weights behind it)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

import pyarrow.parquet as pq
import torch

from eao.checkpoints import load_model
from eao.data.corpus import FeatureTables
from eao.devices import resolve_device
from eao.model import EverythingAtOnce

log = logging.getLogger("eao.retrieval")  # unchanged name: the run logs stay comparable

# Shard footer key -> provenance key (eao.backbones.weights.Provenance.as_metadata).
PROVENANCE_KEYS = {
    b"backbone": "backbone",
    b"weights": "weights",
    b"weights_seed": "seed",
    b"weights_sha256": "sha256",
}
INPUT_KINDS = ("video_2d", "video_3d", "audio", "text")  # --video-2d ... --text


def add_shard_options(ap: argparse.ArgumentParser) -> None:
    """--video-2d, --video-3d, --audio (optional) and --text (required: the queries)."""
    ap.add_argument("--video-2d", nargs="*", default=[])
    ap.add_argument("--video-3d", nargs="*", default=[])
    ap.add_argument("--audio", nargs="*", default=[])
    ap.add_argument("--text", nargs="+", required=True)


def start(threads: int, device: str) -> str:
    """Log to stderr with timestamps, set torch's CPU threads (0: torch's default) and resolve
    the device ('auto': cuda when visible)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if threads:
        torch.set_num_threads(threads)
    return resolve_device(device)


def load_inputs(
    args: argparse.Namespace, device: str
) -> tuple[EverythingAtOnce, dict, FeatureTables]:
    """The model of --model on `device`, its checkpoint dict, and the tables of the shards.
    The model first: a bad --model is named before any shard is read."""
    model, ckpt = load_model(args.model)
    model.to(device)
    tables = FeatureTables(
        video_2d=args.video_2d, video_3d=args.video_3d, audio=args.audio, text=args.text
    )
    return model, ckpt, tables


def inputs_provenance(args: argparse.Namespace) -> dict[str, dict | None]:
    """The provenance of every input kind's shards (`shard_provenance`), for the result JSON."""
    return {kind: shard_provenance(getattr(args, kind)) for kind in INPUT_KINDS}


def shard_provenance(paths: Sequence[str | os.PathLike]) -> dict | None:
    """What produced a kind's feature shards, from the Parquet footer of the first one
    (eao.backbones.weights.Provenance.as_metadata): backbone, weights, and seed / sha256 when
    recorded. None without shards. Shards that disagree are logged (mixed features)."""
    if not paths:
        return None
    found = [_provenance(p) for p in paths]
    if any(f != found[0] for f in found[1:]):
        log.warning("%s: shards of different provenance (first: %s)", paths[0], found[0])
    return found[0]


def _provenance(path: str | os.PathLike) -> dict:
    kv = pq.read_metadata(path).metadata or {}
    out = {name: kv[key].decode() for key, name in PROVENANCE_KEYS.items() if key in kv}
    if "seed" in out:
        out["seed"] = int(out["seed"])
    return out
