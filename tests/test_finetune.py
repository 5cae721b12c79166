"""Fine-tuning on a retrieval benchmark's training split: items, the caption draw, the clips
with audio only, the paper's settings, and a run from a pretrained checkpoint that resumes."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from eao.data.corpus import FeatureTables
from eao.data.pairs import FinetuneDataset
from eao.train import finetune, loop
from tests.test_train import MODEL, TRAIN, VIDEOS, corpus  # noqa: F401 (the corpus fixture)


@pytest.fixture(scope="module")
def tables(corpus):  # noqa: F811
    return FeatureTables(
        video_2d=[corpus[0]], video_3d=[corpus[1]], audio=[corpus[2]], text=[corpus[3]]
    )


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    path = tmp_path_factory.mktemp("manifest") / "videos.parquet"
    splits = ["train" if i < 7 else "test" for i in range(len(VIDEOS))]
    pq.write_table(pa.table({"video_id": VIDEOS, "split": splits}), path)
    return str(path)


def test_segments_are_clips_with_their_own_caption(tables):
    ds = FinetuneDataset(
        tables, "segments", ["v0", "v1"], n_video_tokens=4, audio_frames=128, require_audio=False
    )
    segs = tables.text_segments("v0")
    assert len(ds) == len(segs) + len(tables.text_segments("v1"))
    item = ds[(0, 1)]
    assert item["video"].shape == (1, 4, 32) and item["text"].shape == (1, 20, 8)
    np.testing.assert_allclose(item["text"][0, :3], segs[1]["features"], rtol=1e-6)
    # segment 1 is [2.0, 3.5] s: exact borders give 2D rows 2..3 repeated to 3D rows 3..5
    assert item["video_mask"][0].tolist() == [1, 1, 1, 0]


def test_videos_draw_one_caption_per_epoch_reproducibly(tables):
    ds = FinetuneDataset(
        tables, "videos", ["v0"], n_video_tokens=4, audio_frames=128, seed=3, require_audio=False
    )
    assert len(ds) == 1
    feats = [s["features"] for s in tables.text_segments("v0")]

    def drawn(epoch):
        text = ds[(epoch, 0)]["text"][0, :3]
        return next(i for i, f in enumerate(feats) if np.allclose(text, f, rtol=1e-6))

    draws = [drawn(e) for e in range(12)]
    assert draws == [drawn(e) for e in range(12)]  # a pure function of (seed, epoch, index)
    assert len(set(draws)) > 1


def test_clips_without_audio_are_left_out_unless_asked(tables):
    with_audio = FinetuneDataset(tables, "videos", VIDEOS, 4, 128)
    every = FinetuneDataset(tables, "videos", VIDEOS, 4, 128, require_audio=False)
    # v3 has no audio stream, v5 no captions
    assert {r["video_id"] for r in with_audio.rows} == set(VIDEOS) - {"v3", "v5"}
    assert {r["video_id"] for r in every.rows} == set(VIDEOS) - {"v5"}


def test_paper_settings_are_the_defaults():
    cfg = finetune.finetune_config({"epochs": 5, "lr": 1e-5, "batch_videos": 256})
    assert cfg.loss_weights == dict.fromkeys(cfg.loss_weights, 1.0) and len(cfg.loss_weights) == 6
    assert cfg.eval_mode and cfg.n_clips == 1 and cfg.lr_gamma == 0.9
    with pytest.raises(ValueError, match="n_clips"):
        finetune.finetune_config({"n_clips": 2})


def _pretrain(corpus, out):  # noqa: F811
    args = [
        "--model-config",
        json.dumps(MODEL),
        "--train-config",
        json.dumps({**TRAIN, "epochs": 1}),
        "--video-2d",
        corpus[0],
        "--video-3d",
        corpus[1],
        "--audio",
        corpus[2],
        "--text",
        corpus[3],
        "--device",
        "cpu",
        "--out-dir",
        str(out),
    ]
    assert loop.main(args) == 0
    return out / "model.pt"


def test_finetune_from_a_checkpoint_and_resume(corpus, manifest, tmp_path):  # noqa: F811
    init = _pretrain(corpus, tmp_path / "pre")
    cfg = {
        "epochs": 2,
        "batch_videos": 2,
        "lr": 1e-3,
        "video_tokens": 3,
        "audio_frames": 128,
        "workers": 0,
        "log_every_steps": 1,
        "checkpoint_every_steps": 1,
    }
    args = [
        "--init",
        str(init),
        "--clips",
        "segments",
        "--manifest",
        manifest,
        "--split",
        "train",
        "--video-2d",
        corpus[0],
        "--video-3d",
        corpus[1],
        "--audio",
        corpus[2],
        "--text",
        corpus[3],
        "--train-config",
        json.dumps(cfg),
        "--device",
        "cpu",
    ]
    assert finetune.main([*args, "--out-dir", str(tmp_path / "full")]) == 0
    full = torch.load(tmp_path / "full/model.pt", weights_only=True)
    pre = torch.load(init, weights_only=True)
    assert full["model_config"] == pre["model_config"]
    assert full["train_config"]["eval_mode"] and full["epoch"] == 2
    # BatchNorm statistics are frozen (eval mode), the weights moved
    key = next(k for k in pre["model"] if k.endswith("running_mean"))
    assert torch.equal(full["model"][key], pre["model"][key])
    assert any(not torch.equal(full["model"][k], pre["model"][k]) for k in pre["model"])
    # killed after one step, then resumed: the same model as the uninterrupted run
    part = [*args, "--out-dir", str(tmp_path / "part")]
    assert finetune.main([*part, "--stop-after-steps", "1"]) == 0
    assert not (tmp_path / "part/model.pt").exists()
    assert finetune.main(part) == 0
    resumed = torch.load(tmp_path / "part/model.pt", weights_only=True)
    for k, v in full["model"].items():
        assert torch.equal(resumed["model"][k], v), k

    check_resumed_history(tmp_path, full, resumed)


def check_resumed_history(tmp_path, full: dict, resumed: dict) -> None:
    """The resumed history is the uninterrupted run's (not the pretraining's), every step once."""

    def steps_and_losses(run):
        lines = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        return [(r["step"], r["loss"]) for r in map(json.loads, lines)]

    assert steps_and_losses("part") == steps_and_losses("full")
    assert [s for s, _ in steps_and_losses("full")] == list(range(1, full["step"] + 1))
    last_epoch = torch.load(tmp_path / "part/checkpoints/epoch-002.pt", weights_only=True)
    assert [r["step"] for r in last_epoch["history"]] == [s for s, _ in steps_and_losses("full")]
    assert "history" not in resumed  # the model: its log is metrics.jsonl


def test_features_that_do_not_fit_the_model_are_named(corpus, manifest, tmp_path):  # noqa: F811
    init = _pretrain(corpus, tmp_path / "pre")
    args = [
        "--init",
        str(init),
        "--clips",
        "videos",
        "--manifest",
        manifest,
        "--split",
        "train",
        "--video-2d",
        corpus[0],
        "--audio",
        corpus[2],
        "--text",
        corpus[3],
        "--device",
        "cpu",
        "--out-dir",
        str(tmp_path / "ft"),
    ]
    with pytest.raises(ValueError, match="video: features 16-d, model 32-d"):
        finetune.main(args)
