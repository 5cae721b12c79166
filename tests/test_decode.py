"""Frame decoding: ffmpeg does fps, scale and crop; counts and geometry match the reference."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from eao.io.decode import DecodeError, FrameSpec, iter_frames

SPEC_2D, SPEC_3D, SPEC_CLIP = FrameSpec(1, 224), FrameSpec(24, 112, 112), FrameSpec(1, 224, 224)


def make_video(path, seconds: float, size: str = "160x120", rate: int = 25) -> str:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={size}:rate={rate}",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(path)


def frames_of(path: str, spec: FrameSpec, w: int, h: int, chunk: int = 64) -> np.ndarray:
    return np.concatenate(list(iter_frames(path, spec, w, h, chunk)))


@pytest.mark.parametrize("seconds", [2.0, 5.0, 7.0])
def test_counts_per_second(tmp_path, seconds):
    path = make_video(tmp_path / "v.mp4", seconds)
    assert len(frames_of(path, SPEC_2D, 160, 120)) == int(seconds)  # one frame per second
    assert len(frames_of(path, SPEC_3D, 160, 120)) == int(24 * seconds)  # 24 fps for 3D clips


def test_reference_geometry():
    # the spec's examples: 640x360 -> 398x224 (2D), 199x112 -> crop 112 (3D); portrait too
    assert SPEC_2D.scaled_size(640, 360) == (398, 224)
    assert SPEC_2D.scaled_size(480, 360) == (298, 224)
    assert SPEC_2D.scaled_size(360, 640) == (224, 398)
    assert SPEC_3D.scaled_size(640, 360) == (199, 112)
    assert SPEC_3D.output_size(640, 360) == (112, 112)


def test_frames_have_the_requested_shape_and_odd_sizes_work(tmp_path):
    path = make_video(tmp_path / "odd.mp4", 2.0, size="34x20")  # yuv420p needs even sizes
    assert frames_of(path, SPEC_2D, 34, 20).shape == (2, 224, int(34 * 224 / 20), 3)
    assert frames_of(path, SPEC_3D, 34, 20).shape == (48, 112, 112, 3)
    assert frames_of(path, SPEC_CLIP, 34, 20).shape == (2, 224, 224, 3)


def test_chunks_stream_in_order(tmp_path):
    path = make_video(tmp_path / "v.mp4", 3.0)
    chunks = list(iter_frames(path, SPEC_3D, 160, 120, chunk=16))
    assert [len(c) for c in chunks] == [16] * 4 + [8]
    whole = frames_of(path, SPEC_3D, 160, 120, chunk=1000)
    assert np.array_equal(np.concatenate(chunks), whole)
    assert all(c.flags.writeable for c in chunks)


def test_undecodable_file_raises(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(DecodeError):
        list(iter_frames(str(bad), SPEC_2D, 160, 120))


def test_centre_crop_offsets(tmp_path):
    """The 3D crop takes the centre: columns int((W-112)/2) .. of the scaled frame."""
    path = make_video(tmp_path / "wide.mp4", 1.0, size="320x120")
    scaled = frames_of(path, FrameSpec(24, 112), 320, 120)  # 298x112, no crop
    cropped = frames_of(path, SPEC_3D, 320, 120)
    x = (298 - 112) // 2
    assert np.array_equal(cropped, scaled[:, :, x : x + 112])
