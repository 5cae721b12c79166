"""GPU decode (`features.decoder: nvdec`, ffmpeg -hwaccel cuda) against the CPU decoder.

Runs only where CUDA and an ffmpeg with the cuda hwaccel are present (skipped on CPU machines).
H.264 decoding is exact in both; what may differ is the hand-over (NVDEC gives NV12, software
gives YUV420P, and swscale converts each to RGB), so the frames must match in count and shape
and their pixels within a small tolerance: mean absolute difference <= 1 grey level, and no
pixel off by more than 16.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from eao.features import extract
from eao.io.decode import DecodeError
from eao.io.fused import check_nvdec, iter_fused
from tests.test_fused_decode import SPECS, ffmpeg_make


def _nvdec_works() -> bool:
    """A CUDA GPU whose decoder ffmpeg can use: one frame of a generated file decodes."""
    if not torch.cuda.is_available():
        return False
    with tempfile.TemporaryDirectory() as tmp:
        source = "testsrc2=size=320x240:rate=25"
        path = ffmpeg_make(
            Path(tmp) / "one.mp4", "-f", "lavfi", "-i", source, "-t", "0.5", "-c:v", "libx264"
        )
        try:
            check_nvdec(path)
        except DecodeError:
            return False
    return True


pytestmark = pytest.mark.skipif(not _nvdec_works(), reason="needs a CUDA GPU and ffmpeg's cuda")


def frames(path: str, decoder: str) -> dict[str, np.ndarray]:
    got: dict[str, list] = {}
    for name, chunk in iter_fused(path, SPECS, 640, 360, None, 16, decoder=decoder):
        got.setdefault(name, []).append(chunk)
    return {name: np.concatenate(c) for name, c in got.items()}


def test_nvdec_frames_match_the_cpu_decoder_within_tolerance(tmp_path):
    path = ffmpeg_make(
        tmp_path / "v.mp4",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30",
        "-t",
        "4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
    )
    cpu, gpu = frames(path, "cpu"), frames(path, "nvdec")
    for name in SPECS:
        assert cpu[name].shape == gpu[name].shape, name
        diff = np.abs(cpu[name].astype(np.int16) - gpu[name].astype(np.int16))
        assert diff.mean() <= 1.0 and diff.max() <= 16, (name, diff.mean(), diff.max())


def test_extraction_with_nvdec_uses_it_without_falling_back(tmp_path):
    path = ffmpeg_make(
        tmp_path / "v.mp4",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
    )
    rows = [{"video_id": "v", "path": path, "width": 640, "height": 360, "has_audio": False}]
    from tests.test_fused_decode import _tiny_visual

    fallbacks: list[int] = []
    out = extract.extract_media(
        rows, {"resnext101": _tiny_visual()}, 4, "cpu", decoder="nvdec", fallbacks=fallbacks
    )
    assert fallbacks == [] and not out["resnext101"][1] and len(out["resnext101"][0][0]) == 5
