"""bench/cost.py: measured rates -> GPU-hours and node-days for HowTo100M (no video, no model)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("cost", REPO / "bench/cost.py")
cost = importlib.util.module_from_spec(_spec)
sys.modules["cost"] = cost  # dataclasses look their module up there
_spec.loader.exec_module(cost)


def run(tmp_path, extraction=None, training=None, *extra: str) -> dict:
    """cost.main on hand-made inputs (None: that file absent); the cost.json it wrote."""
    args = ["--out", str(tmp_path / "cost.json"), "--word2vec", str(tmp_path / "absent.json")]
    for name, data in (("extraction", extraction), ("training", training)):
        path = tmp_path / f"{name}.json"
        if data is not None:
            path.write_text(json.dumps(data))
        args += [f"--{name}", str(path)]  # absent: the script skips it
    assert cost.main(args + list(extra)) == 0
    return json.loads((tmp_path / "cost.json").read_text())


def rows_of(result: dict) -> dict[tuple[str, str], dict]:
    return {(r["stage"], r["device"].split(" ")[0]): r for r in result["rows"]}


def label(stage: str) -> str:
    return next(lab for name, _, lab in cost.STAGES if name == stage)


def rate(stage: str, device: str, value: float, **kw) -> dict:
    return {
        "stage": stage,
        "device": device,
        "device_name": "X",
        "video_s_per_s": value,
        "source": "hand-made",
        **kw,
    }


def test_gpu_arithmetic(tmp_path, capsys):
    extraction = {"rates": [rate("fused", "cuda", 100.0)], "other": [1, 2]}
    result = run(tmp_path, extraction, None, "--seconds", "4.8e8")
    row = rows_of(result)[(label("fused"), "cuda")]
    assert row["hours"] == pytest.approx(1333.33, abs=0.01)  # 4.8e8 / 100 / 3600
    assert row["unit"] == "GPU-h"
    assert row["node_days"] == pytest.approx(1333.33 / 8 / 24, abs=1e-3)
    assert row["source"] == "hand-made"
    assert "| 1,333 GPU-h | 6.94 | hand-made |" in capsys.readouterr().out


def test_cpu_rate_is_core_hours(tmp_path):
    extraction = {"rates": [rate("logmel", "cpu", 50.0, source="bench, 2 CPU cores")]}
    result = run(tmp_path, extraction, None, "--seconds", "3.6e6", "--cores-per-node", "10")
    row = rows_of(result)[(label("logmel"), "cpu")]
    assert row["unit"] == "core-h"
    assert row["hours"] == pytest.approx(3.6e6 / 50 / 3600 * 2)  # 20 wall-h x 2 cores
    assert row["node_days"] == pytest.approx(40 / 10 / 24)
    assert "CPU rate" in row["source"]


def test_missing_stage_is_not_measured(tmp_path, capsys):
    result = run(tmp_path)  # no JSON at all
    rows = rows_of(result)
    fused = rows[(label("fused"), "cuda")]
    assert fused["hours"] is None and fused["node_days"] is None
    assert fused["source"] == (
        "not measured: `python bench/extraction.py --device cuda` (GPU: `bench/gpu.sh`)"
    )
    assert rows[(label("logmel"), "cpu")]["source"].startswith("not measured")
    # no rate is typed in by hand: without a JSON every GPU stage is unmeasured
    assert rows[(label("resnet152"), "cuda")]["hours"] is None
    out = capsys.readouterr().out
    assert "| fused: all backbones, one decoding pass | cuda | — |" in out
    assert "not measured: `bench/gpu.sh`" in out


def test_json_rates(tmp_path):
    extraction = {"rates": [rate("resnet152", "cuda", 200.0), rate("clip", "cpu", 5.0)]}
    rows = rows_of(run(tmp_path, extraction, None, "--seconds", "7.2e6"))
    assert rows[(label("resnet152"), "cuda")]["hours"] == pytest.approx(10.0)
    assert rows[(label("resnet152"), "cuda")]["source"] == "hand-made"
    # a CPU measurement does not stand in for the GPU: that row stays unmeasured
    assert rows[(label("clip"), "cuda")]["source"].startswith("not measured")
    assert rows[(label("clip"), "cpu")]["unit"] == "machine-h"  # no core count given


def test_pretraining(tmp_path):
    training = {
        "runs": [
            {
                "model": "ours_fp32",
                "config": "paper",
                "device": "cuda",
                "clips": 2240,
                "step_s": 2.0,
                "clips_per_s": 1120.0,
            },
            {
                "model": "ours_fp32",
                "config": "demo",
                "device": "cuda",
                "clips": 80,
                "step_s": 0.1,
                "clips_per_s": 800.0,
            },
        ]
    }
    result = run(tmp_path, None, training, "--videos", "2250")
    steps, clips = 15 * 10, 15 * 10 * 2240  # 2250 // 224 = 10 full batches (drop_last)
    assert result["pretraining"]["steps"] == steps and result["pretraining"]["clips"] == clips
    rows = rows_of(result)
    ours = rows[("pretraining, ours, fp32", "cuda")]
    assert ours["hours"] == pytest.approx(clips / 1120 / 3600)
    assert "training.json" in ours["source"] and "2240 clips a step" in ours["source"]
    assert rows[("pretraining, reference structure, fp32", "cuda")]["hours"] is None
    assert rows[("pretraining, the paper's run", "cuda")]["hours"] == 192


def test_howto_defaults():
    seconds, videos = cost.HOWTO_SECONDS, cost.HOWTO_VIDEOS
    assert seconds == pytest.approx(4.73e8, rel=1e-3)  # 15 years
    assert seconds / videos == pytest.approx(388, abs=0.5)  # 6.5 min a video


def test_own_job_rates_fill_missing_stages(tmp_path):
    """log-mel (and any backbone without a per-backbone run) from the --end-to-end jobs."""
    extraction = {
        "meta": {"date": "2026-01-02", "cpu": "CPU X", "cores": 4},
        "rates": [rate("resnet152", "cpu", 2.0, cores=4)],
        "end_to_end": {
            "video_seconds": 20.0,
            "today_per_backbone_s": {"resnet152": 40.0, "logmel": 0.5},
        },
    }
    rows = rows_of(run(tmp_path, extraction, None, "--seconds", "3.6e6"))
    assert rows[(label("resnet152"), "cpu")]["rate"] == "2 video-s/s"  # the JSON's own rate
    logmel = rows[(label("logmel"), "cpu")]
    assert logmel["rate"] == "40 video-s/s" and logmel["unit"] == "core-h"
    assert "its own job (--end-to-end)" in logmel["source"]
