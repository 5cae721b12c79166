"""`eao info` and `eao doctor`: what a table holds, what a machine lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import eao.features.shards as shards
from eao import cli


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)
    assert cli.main(["nope"]) == 2
    assert capsys.readouterr().err == "eao: error: unknown command 'nope'\n"


def test_info_on_a_feature_shard(tmp_path, capsys):
    path = str(tmp_path / "shard.parquet")
    feats = [np.ones((n, 4), np.float16) for n in (3, 5)]
    cols = {"video_id": ["a", "b"], "times_s": [[0.5, 1.5, 2.5], [0.5] * 5],
            "features": shards.features_array(feats, 4, pa.float16())}  # fmt: skip
    meta = {"backbone": "resnet152", "weights": "random", "weights_seed": "7"}
    shards.write_features(path, cols, shards.visual_schema(4), meta)
    assert cli.main(["info", path]) == 0
    out = capsys.readouterr().out
    assert "2 rows in 2 row group(s)" in out
    assert "backbone: resnet152" in out and "weights: random" in out and "weights_seed: 7" in out
    assert "features: 2 videos, 8 feature rows (3-5 per video)" in out


@pytest.mark.parametrize("content", [None, b"", b"not parquet at all"])
def test_info_on_a_missing_or_non_parquet_file_is_a_clear_error(tmp_path, capsys, content):
    path = tmp_path / "x.parquet"
    if content is not None:
        path.write_bytes(content)
    assert cli.main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"eao info: error: {path}: ") and err.count("\n") == 1


def test_doctor_without_ffmpeg_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    config = tmp_path / "config.yaml"
    config.write_text("features:\n  resnet152: {enabled: true, weights: /no/such/file.pth}\n")
    assert cli.main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "MISSING  ffmpeg is not on PATH" in out and "MISSING  ffprobe is not on PATH" in out
    assert "apt-get install ffmpeg" in out and "conda install -c conda-forge ffmpeg" in out
    assert "features.resnet152: /no/such/file.pth does not exist" in out
    assert "3 required thing(s) missing" in out


def test_doctor_on_this_machine_passes(capsys):
    config = Path(__file__).resolve().parents[1] / "config.yaml"
    assert cli.main(["doctor", "--config", str(config)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("ready")
