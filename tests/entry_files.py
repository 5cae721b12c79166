"""Valid files of every kind an entry point reads, made with the project's writers: what
tests/test_entry_errors.py cuts in half, or passes where another kind is expected."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from eao.checkpoints import save_atomic
from eao.features import shards
from eao.io.parquet import CAPTIONS, FAILURES, MANIFEST, table_from_rows, write_table
from eao.model import EverythingAtOnce, ModelConfig

CFG = ModelConfig(
    video_dim=8, text_dim=8, width=32, heads=4, proj_dim=16, audio_channels=(4, 4, 8, 8, 8, 16, 16)
)
VIDEOS = ["v0", "v1"]
# log-mel lengths; 1602: the reference's seconds of 1602 frames map back to frame 1601 (float)
FRAMES = (537, 837, 1602, 1437, 1737, 2037)
NON_ASCII = "crème brûlée — 炒饭"


def visual_shard(path: Path, seconds: int = 12) -> Path:
    feats = [np.ones((seconds, CFG.video_dim), np.float16) for _ in VIDEOS]
    cols = {
        "video_id": VIDEOS,
        "times_s": [(np.arange(seconds) + 0.5).tolist()] * 2,
        "features": shards.features_array(feats, CFG.video_dim, pa.float16()),
    }
    shards.write_features(
        str(path),
        cols,
        shards.visual_schema(CFG.video_dim),
        {"table": "features/resnet152", "backbone": "resnet152"},
    )
    return path


def text_shard(path: Path) -> Path:
    rows = [(v, j) for v in VIDEOS for j in range(4)]
    cols = {
        "video_id": [v for v, _ in rows],
        "segment": [j for _, j in rows],
        "start_s": [2.0 * j for _, j in rows],
        "end_s": [2.0 * j + 1.5 for _, j in rows],
        "tokens": [["cut", "it"] for _ in rows],
        "features": shards.features_array(
            [np.ones((2, CFG.text_dim), np.float32)] * len(rows), CFG.text_dim, pa.float32()
        ),
    }
    meta = {"table": "text_features/word2vec", "weights": "random", "weights_seed": "0"}
    shards.write_features(str(path), cols, shards.text_schema(CFG.text_dim), meta)
    return path


def index_file(path: Path) -> Path:
    emb = np.eye(2, CFG.proj_dim, dtype=np.float32)
    table = pa.Table.from_pydict(
        {
            "video_id": VIDEOS,
            "path": ["/v0.mp4", "/v1.mp4"],
            "start_s": [0.0, 0.0],
            "end_s": [8.0, 8.0],
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), CFG.proj_dim),
        }
    )
    write_table(
        table,
        str(path),
        {
            "table": "index",
            "model": "model.pt",
            "max_words": "20",
            "text_encoder": "word2vec",
            "text_weights": "random",
            "text_seed": "0",
        },
    )
    return path


def valid_files(root: Path) -> dict[str, Path]:
    """One valid file of every kind an entry point reads, in `root`, by name."""
    f: dict[str, Path] = {}
    rows = [
        {
            "video_id": v,
            "path": str(root / f"{v}.mp4"),
            "dataset": "t",
            "split": "test",
            "shard": 0,
            "duration_s": 12.0,
            "has_video": True,
            "has_audio": True,
        }
        for v in VIDEOS
    ]
    f["manifest"] = root / "manifest.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(f["manifest"]), {"table": "manifest"})
    caps = [
        {"video_id": v, "segment": 0, "start_s": 0.0, "end_s": 2.0, "text": "cut"} for v in VIDEOS
    ]
    f["captions"] = root / "captions.parquet"
    write_table(table_from_rows(caps, CAPTIONS), str(f["captions"]), {"table": "captions"})
    fails = [{"video_id": "v9", "path": "/v9.mp4", "stage": "probe", "error": "empty file"}]
    f["failures"] = root / "failures.parquet"
    write_table(table_from_rows(fails, FAILURES), str(f["failures"]), {"table": "failures"})
    f["shard_2d"] = visual_shard(root / "shard-2d.parquet")
    f["shard_text"] = text_shard(root / "shard-text.parquet")
    f["index"] = index_file(root / "index.parquet")
    torch.manual_seed(0)
    state = EverythingAtOnce(CFG).state_dict()
    f["model"] = root / "model.pt"
    save_atomic({"model": state, "model_config": asdict(CFG)}, f["model"])
    f["official"] = root / "latest_model.pth"
    torch.save(
        {
            "arch": "DataParallel",
            "epoch": 1,
            "state_dict": {f"module.{k}": v for k, v in state.items()},
        },
        f["official"],
    )
    f["weights_dict"] = root / "weights.pt"
    torch.save({"weights": torch.zeros(3), "step": 4}, f["weights_dict"])
    config = {"demo": {"seed": 1}, "features": {"resnet152": {"weights": "random"}}}
    f["config"] = write(root / "config.yaml", json.dumps(config, indent=1))  # JSON is YAML
    f["config_no_demo"] = write(root / "other.yaml", "datasets:\n  howto: {}\n")
    f["videos_csv"] = write(root / "videos.csv", "video_id,path\nv0,v0.mp4\nv1,v1.mp4\n")
    f["other_csv"] = write(root / "list.csv", "key,sentence\nv0,cut the onion\n")
    entry = {"start": [0.0, 2.0], "end": [2.0, 4.0], "text": ["cut the onion", "fry it"]}
    f["caption_json"] = write(root / "caption.json", json.dumps(dict.fromkeys(VIDEOS, entry)))
    recall = {"R1": 10.0, "R5": 40.0, "R10": 60.0, "R50": 100.0}
    result = {"metrics": {"t2v": recall}, "chance": recall, "clips": 20}
    deep = root / "retrieval" / "zeroshot" / "main" / "youcook2"
    f["result_json"] = write(deep / "at_once.json", json.dumps(result, indent=1))
    f["localization_json"] = write(deep / "localization.json", '{"recall_pooled": 1.0}')
    f["tables_config"] = write(
        root / "tables.json",
        json.dumps(
            {"datasets": ["youcook2", "msrvtt"], "ablations_run": ["tv"], "pretrain": {}}, indent=1
        ),
    )
    f["metrics"] = write(root / "main" / "metrics.jsonl", '{"step": 1, "loss": 2.0}\n')
    f["word2vec"] = word2vec_file(root / "vectors.bin")
    f["released_pickle"] = write_released(root / "released")["resnet"]
    f["folder"] = root / "my_videos"
    f["folder"].mkdir()
    (f["folder"] / "a.mp4").write_bytes(b"not decoded here")
    return f


def word2vec_file(path: Path) -> Path:
    """A word2vec binary in the GoogleNews format: two 8-d words."""
    write_word2vec(path, ["cut", "it"])
    return path


def write_word2vec(path: Path, words: list[str]) -> dict[str, np.ndarray]:
    """A word2vec binary in the GoogleNews format: seeded 8-d vectors of `words`, returned."""
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(0)
    vecs = {w: rng.standard_normal(8).astype(np.float32) for w in words}
    kv = KeyedVectors(vector_size=8)
    kv.add_vectors(list(vecs), np.stack(list(vecs.values())))
    kv.save_word2vec_format(str(path), binary=True)
    return vecs


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def released_items(seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Six clips in the layout of EAO's released youcook_val.pkl (seeded arrays; one item
    without `2d_full`, as the 11 the reference drops, holding a pooled (2048,) `2d`; a
    non-ASCII caption; some audio as tensors) and the items of the S3D pickle aligned with it."""
    rng = np.random.default_rng(seed)
    captions = [
        "add the eggs",
        f"make a {NON_ASCII}",
        "fry the onions",
        "stir the rice",
        "pour the sauce",
        "serve it hot",
    ]
    items, s3d = [], []
    for i, caption in enumerate(captions):
        t2 = 5 + 3 * i
        item = {
            "id": f"clip{i}",
            "caption": caption,
            "3d_full": rng.standard_normal((int(t2 * 1.5), 2048)).astype(np.float32),
            "audio": rng.standard_normal((40, FRAMES[i])).astype(np.float32),
        }
        if i % 2:
            item["audio"] = torch.from_numpy(item["audio"])
        if i != 3:  # one item without 2D features, as the 11 of youcook_val.pkl
            item["2d_full"] = rng.standard_normal((t2, 2048)).astype(np.float32)
        else:  # ... but a pooled `2d` vector: still a miss (no fallback to `2d`)
            item["2d"] = np.linspace(-1, 1, 2048, dtype=np.float32)
        items.append(item)
        s3d.append({"s3d": rng.standard_normal((t2, 1024)).astype(np.float32)})
    return items, s3d


def write_released(folder: Path, seed: int = 0) -> dict[str, Path]:
    """The released pickles of `released_items`: {"resnet": youcook_val.pkl, "s3d": ...}."""
    import pickle

    folder.mkdir(parents=True, exist_ok=True)
    items, s3d = released_items(seed)
    paths = {"resnet": folder / "youcook_val.pkl", "s3d": folder / "youcook_val_s3d.pkl"}
    paths["resnet"].write_bytes(pickle.dumps(items, protocol=4))
    paths["s3d"].write_bytes(pickle.dumps(s3d, protocol=4))
    return paths
