"""One decode per video: the fused ffmpeg pass gives every backbone the bytes its own decode
gives, on demo-world videos and on odd files; one job for every backbone writes the shards that
one job per backbone writes; a failed fused decode falls back to one stream at a time."""

from __future__ import annotations

import subprocess

import numpy as np
import pyarrow.parquet as pq
import pytest

from eao.backbones.registry import backbones
from eao.demo.render import render_video
from eao.demo.world import DemoConfig, plan_world
from eao.errors import run
from eao.features import decoding, extract
from eao.io.audio import decode_audio
from eao.io.decode import DecodeError, FrameSpec, iter_frames
from eao.io.ffmpeg import probe
from eao.io.fused import AUDIO, AudioSpec, check_nvdec, iter_fused
from eao.io.parquet import MANIFEST, table_from_rows, write_table

SPECS = {  # the geometries of extract's backbones (eao.features.visual)
    "resnet152": FrameSpec(1, 224),
    "resnext101": FrameSpec(24, 112, 112),
    "clip": FrameSpec(1, 224, 224),
}


def ffmpeg_make(path, *args: str) -> str:
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", *args, str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return str(path)


def odd_files(folder) -> dict[str, str]:
    """Files that stress the geometry and the streams: odd sizes, portrait with a rotation
    tag, 29.97 fps, audio longer than video, 5.1 audio, no audio, variable frame rate."""
    src = ["-f", "lavfi", "-i"]
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    sine = [*src, "sine=frequency=300:sample_rate=44100"]
    return {
        "odd_size": ffmpeg_make(
            folder / "odd.mp4",
            *src,
            "testsrc2=size=161x121:rate=25",
            *sine,
            "-t",
            "2.3",
            *x264,
            "-c:a",
            "aac",
        ),
        "portrait_rotated": ffmpeg_make(
            folder / "rot.mp4",
            *src,
            "testsrc2=size=120x200:rate=30",
            *sine,
            "-t",
            "2",
            *x264,
            "-metadata:s:v",
            "rotate=90",
            "-c:a",
            "aac",
        ),
        "ntsc_rate": ffmpeg_make(
            folder / "ntsc.mp4", *src, "testsrc2=size=176x144:rate=30000/1001", "-t", "3.1", *x264
        ),
        "long_audio_51": ffmpeg_make(
            folder / "long_audio.mkv",
            *src,
            "testsrc2=size=160x90:rate=24:duration=1.5",
            *src,
            "sine=frequency=500:sample_rate=48000:duration=3",
            "-ac",
            "6",
            *x264,
            "-c:a",
            "aac",
        ),
        "vfr": ffmpeg_make(
            folder / "vfr.mkv",
            *src,
            "testsrc2=size=128x96:rate=25",
            "-t",
            "2.5",
            "-vf",
            "select='not(mod(n\\,3))'",
            "-fps_mode",
            "vfr",
            *x264,
        ),
    }


def demo_files(folder) -> dict[str, str]:
    cfg = DemoConfig(width=320, height=240, fps=24, howto_videos=2, tasks=2)
    world = plan_world(cfg)
    files = {}
    for v in world.videos["howto"][:2]:
        v.corrupt = False
        path = str(folder / f"{v.video_id}.mp4")
        render_video(world.tasks[v.task], v, cfg, path, 0)
        files[f"demo_{v.video_id}"] = path
    return files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fused")
    return {**demo_files(folder), **odd_files(folder)}


def fused(path: str, width: int, height: int, audio: bool) -> dict[str, np.ndarray]:
    got: dict[str, list] = {}
    for name, chunk in iter_fused(path, SPECS, width, height, AudioSpec() if audio else None, 7):
        got.setdefault(name, []).append(chunk)
    return {name: np.concatenate(chunks) for name, chunks in got.items()}


@pytest.mark.parametrize(
    "name", ["demo", "odd_size", "portrait_rotated", "ntsc_rate", "long_audio_51", "vfr"]
)
def test_fused_frames_and_audio_are_byte_identical_to_separate_decodes(files, name):
    for key, path in files.items():
        if not key.startswith(name):
            continue
        info = probe(path)
        got = fused(path, info.width, info.height, info.has_audio)
        for backbone, spec in SPECS.items():
            alone = np.concatenate(list(iter_frames(path, spec, info.width, info.height)))
            assert got[backbone].shape == alone.shape, (key, backbone)
            assert np.array_equal(got[backbone], alone), (key, backbone)
        if info.has_audio:
            assert np.array_equal(np.clip(got[AUDIO], -1, 1), decode_audio(path)), key
        else:
            assert AUDIO not in got


def test_fused_decode_of_a_damaged_file_raises_with_the_reason(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
    with pytest.raises(DecodeError, match="ffmpeg failed"):
        list(iter_fused(str(bad), SPECS, 160, 120, AudioSpec()))


def probed_shard(files: dict[str, str], folder) -> str:
    rows = []
    for key, path in files.items():
        info = probe(path)
        rows.append(
            {
                "video_id": key,
                "path": path,
                "dataset": "t",
                "shard": 0,
                "duration_s": info.duration_s,
                "fps": info.fps,
                "width": info.width,
                "height": info.height,
                "has_video": True,
                "has_audio": info.has_audio,
                "error": None,
            }
        )
    rows.insert(2, {**rows[0], "video_id": "gone", "path": str(folder / "gone.mp4")})
    out = folder / "probed.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(out))
    return str(out)


def run_job(probed: str, out, backbones: list[str]) -> None:
    args = [
        "--probed",
        probed,
        "--device",
        "cpu",
        "--batch-size",
        "4",
        "--threads",
        "2",
        "--s3d-size",
        "64",
    ]
    for b in backbones:
        args += [
            "--backbone",
            b,
            "--out",
            f"{b}={out}/{b}.parquet",
            "--out-failures",
            f"{b}={out}/{b}-failures.parquet",
        ]
    assert extract.main(args) == 0


@pytest.mark.slow
def test_one_job_for_every_backbone_writes_the_shards_of_one_job_per_backbone(files, tmp_path):
    probed = probed_shard(files, tmp_path)
    one, each = tmp_path / "one", tmp_path / "each"
    one.mkdir(), each.mkdir()
    run_job(probed, one, list(backbones()))
    for b in backbones():
        run_job(probed, each, [b])
    for b in backbones():
        for suffix in (".parquet", "-failures.parquet"):
            a, e = pq.read_table(one / f"{b}{suffix}"), pq.read_table(each / f"{b}{suffix}")
            assert a.equals(e), (b, suffix)
            assert a.schema.metadata == e.schema.metadata
        failures = pq.read_table(one / f"{b}-failures.parquet").to_pylist()
        assert [(f["video_id"], f["stage"]) for f in failures] == [("gone", f"extract_{b}")]


def test_a_failed_fused_decode_falls_back_to_one_stream_at_a_time(files, monkeypatch):
    """The fused pass fails after some chunks: they are dropped, each stream is decoded alone,
    and the features equal those of a clean run (no row counted twice)."""
    key = next(k for k in files if k.startswith("demo"))
    info = probe(files[key])
    rows = [
        {
            "video_id": key,
            "path": files[key],
            "width": info.width,
            "height": info.height,
            "has_audio": info.has_audio,
        }
    ]
    visuals = {"resnext101": _tiny_visual(), "logmel": _logmel()}
    clean = extract.extract_media(rows, visuals, 4, "cpu")
    real = decoding.iter_fused

    def fails_midway(*args, **kwargs):
        for n, item in enumerate(real(*args, **kwargs)):
            if n == 3:
                raise DecodeError("ffmpeg failed: a damaged audio packet")
            yield item

    monkeypatch.setattr(decoding, "iter_fused", fails_midway)
    again = extract.extract_media(rows, visuals, 4, "cpu")
    for name in ("resnext101", "logmel"):
        assert not again[name][1]
        assert np.array_equal(again[name][0][0], clean[name][0][0]), name


def _tiny_visual():
    """A ResNeXt-101-shaped Visual whose model is a cheap fixed projection of the clip."""
    import torch

    from eao.backbones.resnext3d import make_clips
    from eao.backbones.spec import Visual

    torch.manual_seed(0)
    proj = torch.randn(3 * 16 * 112 * 112 // 256, 8)

    def model(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1, 256).mean(-1) @ proj

    return Visual(
        "resnext101",
        FrameSpec(24, 112, 112),
        16 / 24,
        8,
        lambda f: make_clips(torch.from_numpy(f)),
        model,
        {},
    )


def _logmel():
    """The log-mel extractor (eao.backbones.logmel), as the extraction builds it."""
    return extract.build_extractor("logmel", {}, "cpu")


def test_audio_alone_from_a_file_without_audio_is_an_empty_row(files):
    """The probe said audio but there is none: an empty log-mel row, as before the one pass."""
    path = files["ntsc_rate"]  # video only
    rows = [{"video_id": "v", "path": path, "width": 176, "height": 144, "has_audio": True}]
    out = extract.extract_media(rows, {"logmel": _logmel()}, 4, "cpu")
    assert out["logmel"][1] == {} and out["logmel"][0][0].shape == (0, 40)


def test_nvdec_where_it_cannot_work_is_one_line_and_exit_2(files, tmp_path, capsys):
    if decoding_works_on_gpu(files["odd_size"]):
        pytest.skip("this machine decodes on the GPU")
    probed = probed_shard({"odd": files["odd_size"]}, tmp_path)
    args = [
        "--probed",
        probed,
        "--device",
        "cpu",
        "--decoder",
        "nvdec",
        "--backbone",
        "clip",
        "--out",
        str(tmp_path / "c.parquet"),
        "--out-failures",
        str(tmp_path / "f.parquet"),
    ]
    code = run(extract.main, args, prog="python -m eao.features.extract")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--decoder nvdec does not work here" in err[0]
    assert not (tmp_path / "c.parquet").exists()


@pytest.mark.parametrize(
    "bad",
    [["--batch-size", "0"], ["--threads", "0"], ["--decoder-threads", "-1"], ["--decoders", "x"]],
)
def test_bad_counts_are_one_line_and_exit_2(bad, capsys):
    args = ["--probed", "p.parquet", "--backbone", "clip", "--out", "c", "--out-failures", "f"]
    with pytest.raises(SystemExit) as e:
        extract.main(args + bad)
    assert e.value.code == 2
    assert "expected an integer" in capsys.readouterr().err


def test_named_values_win_over_bare_ones_in_any_order():
    both = ["resnet152", "clip"]
    want = {"resnet152": "b", "clip": "a"}
    assert extract.per_backbone(["clip=a", "b"], both, "--weights") == want
    assert extract.per_backbone(["b", "clip=a"], both, "--weights") == want


def decoding_works_on_gpu(path: str) -> bool:
    try:
        check_nvdec(path)
    except DecodeError:
        return False
    return True
