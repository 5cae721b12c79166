"""The report's analyses: attention shares between modalities, and the figures' files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eao.errors import BadInput
from eao.model import EverythingAtOnce, ModelConfig
from eao.report import __main__ as report
from eao.report import figures
from eao.report.analysis import modality_attention

CFG = ModelConfig(
    video_dim=24,
    text_dim=12,
    width=32,
    heads=4,
    proj_dim=16,
    audio_channels=(4, 4, 8, 8, 8, 16, 16),
)


def test_attention_shares_are_distributions_over_key_modalities():
    torch.manual_seed(0)
    model = EverythingAtOnce(CFG)
    batch = {
        "text": torch.randn(5, 6, 12),
        "text_mask": torch.ones(5, 6),
        "video": torch.randn(5, 4, 24),
        "video_mask": torch.ones(5, 4),
        "audio": torch.randn(5, 40, 128),
        "audio_mask": torch.ones(5, 128),
    }
    batch["text_mask"][:, 3:] = 0  # padding is neither a query nor a key
    att = modality_attention(model, batch)
    assert att.shape == (4, 3, 3)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-5)
    # a text-only key set: every text query's attention is on text
    batch["video_mask"][:] = 0
    batch["audio_mask"][:] = 0
    only_text = modality_attention(model, batch)
    # (empty modalities get the masking token: one valid key each, so not exactly 1)
    assert (only_text[:, 0, 0] > only_text[:, 0, 1]).all()


def test_training_and_recall_figures(tmp_path):
    metrics = tmp_path / "main" / "metrics.jsonl"
    metrics.parent.mkdir()
    parts = dict.fromkeys(figures.TERMS, 1.0)
    records = [
        {"step": s, "loss": 2.0 / s, "parts": parts, "lr": 1e-3, "clips_per_s": 10.0}
        for s in (1, 2, 3)
    ]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = tmp_path / "retrieval" / "zeroshot" / "main" / "youcook2" / "at_once.json"
    result.parent.mkdir(parents=True)
    recall = {"R1": 10.0, "R5": 40.0, "R10": 60.0, "R50": 100.0}
    result.write_text(
        json.dumps(
            {
                "metrics": {"t2v": recall, "t2va": recall, "t2v+a": recall},
                "chance": recall,
                "clips": 20,
            }
        )
    )
    out = tmp_path / "figures"
    argv = ["--metrics", str(metrics), "--retrieval", str(result), "--out-dir", str(out)]
    assert report.main([*argv, "--datasets", "youcook2"]) == 0
    assert (out / "training.png").stat().st_size > 10_000
    assert (out / "recall_youcook2.png").stat().st_size > 10_000
    with pytest.raises(BadInput, match="--datasets: no retrieval results for msrvtt"):
        report.main([*argv, "--datasets", "msrvtt", "--out-dir", str(tmp_path / "none")])
    assert not (tmp_path / "none").exists()  # refused before any figure


def test_clips_per_s_is_a_moving_median():
    noisy = [10.0, 500.0, 10.0, None, 10.0, 0.0, 10.0]
    assert figures.moving_median(noisy, window=3) == [255.0, 10.0, 255.0, 10.0, 5.0, 10.0, 5.0]
    assert figures.moving_median([None, None], window=5) == [None, None]
    steady = figures.moving_median([float(v % 2) * 100 for v in range(50)])  # 0, 100, 0, ...
    assert all(v in (0.0, 100.0) for v in steady[15:35])  # a median, not a mean: no 50s


def test_thumbnails_decode_through_eao_io_with_rotation(media):
    from eao.report.analysis import thumbnail

    frame = thumbnail(str(media.good), 0.5)
    assert frame.dtype == np.uint8 and frame.shape[0] == 90 and frame.shape[2] == 3
    assert frame.shape[1] > frame.shape[0]  # landscape, as displayed
    late = thumbnail(str(media.good), 1000.0)  # past the end: the last frame
    assert late is not None and late.shape == frame.shape
    assert thumbnail(str(media.text), 0.5) is None
    assert thumbnail(str(media.missing), 0.5) is None
    if media.rotated is not None:  # displayed upright: portrait, 90 px high
        turned = thumbnail(str(media.rotated), 0.5)
        assert turned.shape[0] == 90 and turned.shape[0] > turned.shape[1]
