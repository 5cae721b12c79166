"""Feature extraction end to end on generated clips of known length, every backbone."""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pyarrow.parquet as pq
import pytest

from eao.features import decoding, extract
from eao.io.decode import DecodeError, FrameSpec
from eao.io.parquet import MANIFEST, table_from_rows, write_table

pytestmark = pytest.mark.slow

SECONDS = [2.0, 3.0, 5.0]


def make_clip(path, seconds: float, audio: bool = True) -> None:
    args = [
        "ffmpeg",
        "-v",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25",
    ]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100"]
    args += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac"] if audio else ["-an"]
    subprocess.run([*args, str(path)], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def probed_shard(tmp_path_factory):
    """A probed shard: three good clips (one silent) and one file that vanished after probing."""
    d = tmp_path_factory.mktemp("clips")
    rows = []
    for i, s in enumerate(SECONDS):
        path = d / f"clip{i}.mp4"
        make_clip(path, s, audio=i != 1)
        rows.append(
            {
                "video_id": f"clip{i}",
                "path": str(path),
                "dataset": "t",
                "shard": 0,
                "duration_s": s,
                "fps": 25.0,
                "width": 160,
                "height": 120,
                "has_video": True,
                "has_audio": i != 1,
                "error": None,
            }
        )
    rows.insert(1, {**rows[0], "video_id": "gone", "path": str(d / "gone.mp4")})
    probed = d / "probed.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(probed))
    return probed


# S3D at a small input here (the 224 path: tests/test_s3d.py)
EXTRA = {"s3d": ("--s3d-size", "64")}


def run(backbone: str, probed, out_dir, *extra: str) -> tuple[list[dict], list[dict], dict]:
    extra = (*EXTRA.get(backbone, ()), *extra)
    out, fails = out_dir / f"{backbone}.parquet", out_dir / f"{backbone}-failures.parquet"
    code = extract.main(
        [
            "--backbone",
            backbone,
            "--probed",
            str(probed),
            "--weights",
            "random",
            "--batch-size",
            "4",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--out-failures",
            str(fails),
            *extra,
        ]
    )
    assert code == 0
    meta = {k.decode(): v.decode() for k, v in pq.read_metadata(out).metadata.items()}
    return pq.read_table(out).to_pylist(), pq.read_table(fails).to_pylist(), meta


EXPECTED = {  # rows per second of video, per the reference extractors
    "resnet152": (2048, lambda s: int(s)),
    "clip": (512, lambda s: int(s)),
    "resnext101": (2048, lambda s: math.ceil(24 * s / 16)),
    "s3d": (1024, lambda s: math.ceil(s)),  # one 32-frame window centred on each second
}


@pytest.mark.parametrize("backbone", ["resnet152", "resnext101", "clip", "s3d"])
def test_visual_counts_shapes_and_provenance(backbone, probed_shard, tmp_path):
    rows, failures, meta = run(backbone, probed_shard, tmp_path)
    dim, count = EXPECTED[backbone]
    assert [r["video_id"] for r in rows] == ["clip0", "clip1", "clip2"]
    assert [(f["video_id"], f["stage"]) for f in failures] == [("gone", f"extract_{backbone}")]
    for row, seconds in zip(rows, SECONDS, strict=True):
        feats = np.asarray(row["features"], np.float32)
        assert feats.shape == (count(seconds), dim)
        assert np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=2e-3)
        times = np.asarray(row["times_s"])
        assert len(times) == len(feats) and np.all(np.diff(times) > 0)
        assert times[-1] < seconds + 0.7
    assert meta["backbone"].startswith(backbone[:4]) or backbone in meta["backbone"]
    assert meta["weights"] == "random" and meta["weights_seed"] == "0"


def test_s3d_rows_are_seconds_in_both_recipes(probed_shard, tmp_path):
    """An N-second video gives N rows at 1/s, row i at i + 0.5 s, with either windowing; the
    recipe, the output and the input size are in the shard's metadata."""
    for recipe, output, dim in (
        ("16fps_32x16", "mixed_5c", 1024),
        ("30fps_30", "video_embedding", 512),
    ):
        rows, _, meta = run(
            "s3d", probed_shard, tmp_path, "--s3d-recipe", recipe, "--s3d-output", output
        )
        settings = (meta["s3d_recipe"], meta["s3d_output"], meta["input_size"])
        assert settings == (recipe, output, "64")
        assert meta["features_per_second"] == "1"
        for row, seconds in zip(rows, SECONDS, strict=True):
            assert np.asarray(row["features"]).shape == (int(seconds), dim)
            assert row["times_s"] == [i + 0.5 for i in range(int(seconds))]


def test_logmel_counts_and_silent_video(probed_shard, tmp_path):
    rows, failures, meta = run("logmel", probed_shard, tmp_path)
    assert [f["video_id"] for f in failures] == ["gone"]
    by_id = {r["video_id"]: r for r in rows}
    assert by_id["clip1"]["has_audio"] is False and by_id["clip1"]["features"] == []
    for vid, seconds in (("clip0", 2.0), ("clip2", 5.0)):
        feats = np.asarray(by_id[vid]["features"], np.float32)
        assert by_id[vid]["has_audio"]
        assert feats.shape[1] == 40
        assert abs(len(feats) - (100 * seconds + 1)) <= 2  # AAC priming may add a few samples
        assert feats.max() == 0 and feats.min() >= -80


def test_same_input_gives_byte_identical_shards(probed_shard, tmp_path):
    """Twice the same bytes, also with several ffmpeg decoders running ahead (videos still
    reach the model in manifest order, so batches are the same)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for out, decoders in ((a, "1"), (b, "3")):
        run("resnet152", probed_shard, out, "--decoders", decoders)
        run("s3d", probed_shard, out, "--decoders", decoders)
        run("logmel", probed_shard, out)
    for name in ("resnet152.parquet", "s3d.parquet", "logmel.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


@pytest.mark.parametrize("backbone", ["resnet152", "resnext101", "s3d"])
def test_features_do_not_depend_on_the_batch_size(backbone, probed_shard, tmp_path):
    """Why features.batch_size is not a recorded param (changing it reruns nothing): eval-mode
    backbones give each frame or clip the same features in any batch, up to float rounding
    (below the float16 the shards store)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    rows_a, _, _ = run(backbone, probed_shard, a)  # 4 per batch: batches span videos
    rows_b, _, _ = run(backbone, probed_shard, b, "--batch-size", "1")
    for ra, rb in zip(rows_a, rows_b, strict=True):
        fa, fb = (np.asarray(r["features"], np.float32) for r in (ra, rb))
        assert fa.shape == fb.shape
        assert np.abs(fa - fb).max() < 2e-3


def test_a_bug_in_a_decoder_thread_is_raised_not_recorded_as_a_bad_video(monkeypatch):
    """A failing decode is a failures row; any other exception in a decoder thread is a bug and
    reaches the job with its traceback (a bug must not look like a bad video)."""
    streams = decoding.Streams(frames={"a": FrameSpec(1.0, 32)}, chunks={"a": 4})

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the decoder")

    monkeypatch.setattr(decoding, "iter_fused", broken)
    monkeypatch.setattr(decoding.os.path, "isfile", lambda path: True)
    rows = [{"path": "x.mp4", "width": 64, "height": 48}]
    with pytest.raises(RuntimeError, match="a bug in the decoder"):
        list(decoding.decoded(rows, streams, 2))

    def failing(*args, **kwargs):
        raise DecodeError("ffmpeg failed: moov atom not found")

    monkeypatch.setattr(decoding, "iter_fused", failing)
    [(index, name, error), done] = list(decoding.decoded(rows, streams, 2))
    assert (index, name) == (0, "a") and isinstance(error, DecodeError)
    assert done == (0, "", None)
