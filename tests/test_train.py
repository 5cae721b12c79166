"""The training loop on a tiny synthetic corpus: resume = uninterrupted run (bit-identical on
CPU), checkpoint contents, metrics, and the per-rank split of the global batch."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import torch

import eao.features.shards as shards
from eao.train import loop, state
from eao.train.distributed import World

MODEL = {"width": 16, "heads": 2, "proj_dim": 8, "audio_channels": [4, 4, 4, 8, 8, 8, 16]}
TRAIN = {
    "epochs": 2,
    "batch_videos": 4,
    "n_clips": 2,
    "min_time": 2.0,
    "video_tokens": 3,
    "audio_frames": 128,
    "workers": 0,
    "checkpoint_every_steps": 1,
    "log_every_steps": 1,
    "lr": 1e-3,
}
VIDEOS = [f"v{i}" for i in range(9)]  # 9 videos, batch 4: 2 steps per epoch, one video left over


def write(path, cols, schema, rate=None):
    shards.write_features(str(path), cols, schema, {"features_per_second": rate} if rate else {})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    seconds = {v: 6 + i % 4 for i, v in enumerate(VIDEOS)}

    def visual(name, rate, dim, audio=False):
        feats = [
            rng.standard_normal((int(seconds[v] * rate), dim)).astype(np.float16) for v in VIDEOS
        ]
        cols = {
            "video_id": VIDEOS,
            "times_s": [(np.arange(len(f)) / rate).tolist() for f in feats],
            "features": shards.features_array(feats, dim, pa.float16()),
        }
        if audio:
            cols["has_audio"] = [v != "v3" for v in VIDEOS]  # one video without an audio stream
            cols["features"] = shards.features_array(
                [f if v != "v3" else f[:0] for v, f in zip(VIDEOS, feats, strict=True)],
                dim,
                pa.float16(),
            )
        write(root / f"{name}.parquet", cols, shards.visual_schema(dim, audio=audio), rate)

    visual("2d", 1.0, 16)
    visual("3d", 1.5, 16)
    visual("audio", 100.0, 40, audio=True)
    rows = [
        (v, j, 2.0 * j, 2.0 * j + 1.5) for v in VIDEOS for j in range(seconds[v] // 2) if v != "v5"
    ]
    cols = {
        "video_id": [r[0] for r in rows],
        "segment": [r[1] for r in rows],
        "start_s": [r[2] for r in rows],
        "end_s": [r[3] for r in rows],
        "tokens": [["w"] * 3 for _ in rows],
        "features": shards.features_array(
            [rng.standard_normal((3, 8)).astype(np.float32) for _ in rows], 8, pa.float32()
        ),
    }
    write(root / "text.parquet", cols, shards.text_schema(8))
    return [str(root / f"{k}.parquet") for k in ("2d", "3d", "audio", "text")]


def run(corpus, out_dir, *extra, train=TRAIN, audio=True):
    f2d, f3d, audio_shards, text = corpus
    argv = [
        "--model-config",
        json.dumps(MODEL),
        "--train-config",
        json.dumps(train),
        "--video-2d",
        f2d,
        "--video-3d",
        f3d,
        "--text",
        text,
        "--device",
        "cpu",
        "--out-dir",
        str(out_dir),
        *(["--audio", audio_shards] if audio else []),
        *extra,
    ]
    assert loop.main(argv) == 0


def metrics(out_dir) -> list[dict]:
    """metrics.jsonl's records without the wall-clock throughput."""
    lines = (out_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "clips_per_s"} for line in lines]


def tensorboard_steps(out_dir) -> list[int]:
    """The steps of every loss/total event in OUT_DIR/tensorboard, in the order written."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out_dir / "tensorboard"))
    events.Reload()
    return [e.step for e in events.Scalars("loss/total")]


@pytest.mark.parametrize(("stop", "every"), [(2, 1), (3, 1), (3, 4)])
def test_resume_after_a_kill_equals_the_uninterrupted_run(corpus, tmp_path, stop, every):
    run(corpus, tmp_path / "straight")
    # Stopped after epoch 1's last step but before its end-of-epoch work (stop 2), or in the
    # middle of epoch 2 (stop 3), then the same command again. every 4: the last checkpoint is
    # epoch 1's end, so step 3 was logged before the kill and is done again after it.
    train = {**TRAIN, "checkpoint_every_steps": every}
    run(corpus, tmp_path / "killed", "--stop-after-steps", str(stop), train=train)
    assert not (tmp_path / "killed" / "model.pt").exists()
    last = state.load(tmp_path / "killed" / "checkpoints.partial" / "last.pt")
    assert last["step"] == (stop if every == 1 else 2)
    run(corpus, tmp_path / "killed", train=train)
    # the history: every step exactly once, the same records (throughput is wall-clock)
    assert metrics(tmp_path / "killed") == metrics(tmp_path / "straight")
    assert [r["step"] for r in metrics(tmp_path / "killed")] == [1, 2, 3, 4]
    assert tensorboard_steps(tmp_path / "killed") == [1, 2, 3, 4]
    assert not (tmp_path / "killed" / "checkpoints.partial").exists()
    a, b = (
        state.load(tmp_path / "straight" / "model.pt"),
        state.load(tmp_path / "killed" / "model.pt"),
    )
    assert a["step"] == b["step"] == 4 and a["epoch"] == b["epoch"] == 2
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    for pa_, pb in zip(
        a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True
    ):
        assert torch.equal(pa_["exp_avg_sq"], pb["exp_avg_sq"])
    assert a["scheduler"] == b["scheduler"]


def test_outputs_of_a_finished_run(corpus, tmp_path):
    run(corpus, tmp_path)
    ckpt = state.load(tmp_path / "model.pt")  # weights_only=True
    assert ckpt["model_config"]["video_dim"] == 32 and ckpt["model_config"]["text_dim"] == 8
    assert ckpt["train_config"]["batch_videos"] == 4
    assert ckpt["scheduler"]["last_epoch"] == 2
    assert (tmp_path / "checkpoints" / "epoch-001.pt").exists()
    assert not (tmp_path / "checkpoints" / "last.pt").exists()  # a rerun starts over
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert set(records[0]["parts"]) == {"tv", "ta", "va", "t_va", "v_ta", "a_tv"}
    assert records[2]["lr"] == pytest.approx(1e-3 * 0.9)
    assert all(np.isfinite(r["loss"]) and r["clips_per_s"] > 0 for r in records)
    assert list((tmp_path / "tensorboard").iterdir())


def test_a_fresh_start_replaces_the_metrics_and_checkpoints_of_an_old_run(corpus, tmp_path):
    """Outside Snakemake nothing deletes an old run's files: a run that starts over (no
    checkpoint to resume) must replace metrics.jsonl and the TensorBoard events, not append,
    and keep no epoch file of the old run among its checkpoints."""
    run(corpus, tmp_path / "straight")
    out = tmp_path / "again"
    run(corpus, out, train={**TRAIN, "lr": 2e-3})  # another run finished in the folder
    stale = out / "checkpoints.partial" / "epoch-007.pt"  # and one killed, of another config
    stale.parent.mkdir()
    stale.write_bytes(b"an old run's")
    run(corpus, out, "--resume", "no")
    assert metrics(out) == metrics(tmp_path / "straight")
    assert tensorboard_steps(out) == [1, 2, 3, 4]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "epoch-001.pt",
        "epoch-002.pt",
    ]
    assert not (out / "checkpoints.partial").exists()
    assert (out / "checkpoints.partial.previous" / "epoch-007.pt").read_bytes() == b"an old run's"


def test_a_checkpoint_of_another_config_is_not_resumed(corpus, tmp_path, caplog):
    run(corpus, tmp_path, "--stop-after-steps", "1")
    run(corpus, tmp_path, train={**TRAIN, "lr": 2e-3})
    assert "different train config: starting over" in caplog.text
    assert state.load(tmp_path / "model.pt")["step"] == 4
    # kept aside, not deleted: the run it belongs to may be resumed with its own config
    assert state.load(tmp_path / "checkpoints.partial.previous" / "last.pt")["step"] == 1


def test_accumulated_micro_batches_give_the_whole_batch_update(corpus, tmp_path):
    """accumulate: 4 (micro-batches of 2 clips) trains the same weights as the whole batch of 8
    clips: the loss still has every clip of the batch as a negative. Text-video, since the audio
    CNN's BatchNorm normalises per micro-batch by design."""
    run(corpus, tmp_path / "whole", audio=False)
    run(corpus, tmp_path / "micro", audio=False, train={**TRAIN, "accumulate": 4})
    a, b = state.load(tmp_path / "whole" / "model.pt"), state.load(tmp_path / "micro" / "model.pt")
    for key, value in a["model"].items():
        mine = b["model"][key]
        if key.endswith("qkv.bias"):  # the key bias has no gradient (softmax is shift-invariant):
            keep = torch.ones(len(value), dtype=torch.bool)  # Adam turns its rounding noise into
            keep[MODEL["width"] : 2 * MODEL["width"]] = False  # +-lr steps, so skip it
            value, mine = value[keep], mine[keep]
        torch.testing.assert_close(mine, value, rtol=1e-5, atol=1e-6, msg=key)
    losses = [
        [json.loads(line)["loss"] for line in (tmp_path / d / "metrics.jsonl").open()]
        for d in ("whole", "micro")
    ]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_accumulation_with_audio_moves_batchnorm_once_per_micro_batch(corpus, tmp_path):
    run(corpus, tmp_path / "whole")
    run(corpus, tmp_path / "micro", train={**TRAIN, "accumulate": 2})
    a, b = state.load(tmp_path / "whole" / "model.pt"), state.load(tmp_path / "micro" / "model.pt")
    tracked = [k for k in a["model"] if k.endswith("num_batches_tracked")]
    assert tracked and all(b["model"][k] == 2 * a["model"][k] for k in tracked)


def test_locality_order_batches_span_few_row_groups():
    groups = np.repeat(np.arange(40), 32)  # 40 row groups of 32 videos
    cfg = loop.TrainConfig(batch_videos=64, order="locality")
    batches = loop.epoch_batches(len(groups), cfg, 0, World(), groups)
    assert sorted(i for b in batches for _, i in b) == list(range(len(groups)))
    # every batch reads from at most the 8 groups of one window (or 2 windows at its edge)
    assert max(len({groups[i] for _, i in b}) for b in batches) <= 16
    random = loop.epoch_batches(len(groups), loop.TrainConfig(batch_videos=64), 0, World())
    assert min(len({groups[i] for _, i in b}) for b in random) > 16
    with pytest.raises(ValueError, match="row groups"):
        loop.epoch_batches(len(groups), cfg, 0, World())


def test_a_nan_loss_stops_before_the_update_naming_step_videos_and_checkpoint(
    corpus, tmp_path, monkeypatch
):
    real_loss = loop.Trainer.loss

    def poisoned(self, out):  # step 3 (epoch 2, batch 1) goes non-finite
        loss, parts = real_loss(self, out)
        if self.pos.step == 2:
            parts = {**parts, "va": parts["va"] * float("nan")}
            loss = loss + parts["va"]
        return loss, parts

    monkeypatch.setattr(loop.Trainer, "loss", poisoned)
    with pytest.raises(loop.TrainingDiverged) as err:
        run(corpus, tmp_path)
    message = str(err.value)
    assert "loss is nan (terms va) at step 3 (epoch 2, batch 1)" in message
    ckpt = tmp_path / "checkpoints.partial" / "last.pt"
    assert f"last good checkpoint: {ckpt} (step 2)" in message
    videos = message.split("videos: ")[1].split(";")[0].split(", ")
    assert len(videos) == TRAIN["batch_videos"] and set(videos) <= set(VIDEOS)
    saved = state.load(ckpt)
    assert saved["step"] == 2 and all(torch.isfinite(v).all() for v in saved["model"].values())


def test_unknown_config_keys_are_named():
    with pytest.raises(ValueError, match="unknown TrainConfig keys: epoch"):
        loop.from_dict(loop.TrainConfig, {"epoch": 3})


def test_ranks_split_each_global_batch():
    cfg = loop.TrainConfig(batch_videos=4, seed=3)
    whole = loop.epoch_batches(10, cfg, 1, World())
    halves = [loop.epoch_batches(10, cfg, 1, World(rank, 2)) for rank in (0, 1)]
    assert len(whole) == 2 and all(len(b) == 4 for b in whole)
    for b in range(2):
        assert halves[0][b] + halves[1][b] == whole[b]
    assert loop.epoch_batches(10, cfg, 2, World()) != whole  # a new order every epoch
    with pytest.raises(ValueError, match="not divisible"):
        loop.epoch_batches(10, cfg, 0, World(0, 3))
