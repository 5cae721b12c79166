"""The bad-input suite (issue #7): every kind of bad or odd input mixed into one shard with good
videos, through the real stage entry points (manifest -> probe -> every extractor).

Promises checked: no stage crashes (exit code 0); every bad input is a failures row naming its
stage and reason, or a clear error before any work starts (bad CSVs, duplicate ids, paths
outside the root); every usable video, odd ones included, gets features; the good videos'
features are identical to those of a shard holding only them. The figures (kinds tried, jobs
crashed, good videos lost) are printed in pytest's summary ("reliability compass").
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from eao.errors import run
from eao.features import extract, text
from eao.ingest import manifest, probe

pytestmark = pytest.mark.slow

BACKBONES = ["resnet152", "resnext101", "clip", "logmel"]
NASTY_NAME = "a b 'q' \"dq\" $(touch pwned); rm -rf x; ü.mp4"


def ffmpeg(*args: str) -> None:
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def clip(
    path: Path,
    seconds: float,
    size: str = "160x120",
    rate: float = 25,
    audio: bool = True,
    extra: tuple[str, ...] = (),
    pix_fmt: str = "yuv420p",
) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100"]
    args += ["-t", str(seconds), *extra, "-c:v", "libx264", "-preset", "ultrafast"]
    args += ["-pix_fmt", pix_fmt, *(["-c:a", "aac"] if audio else ["-an"])]
    ffmpeg(*args, str(path))
    return path


# kind -> (file name, how it is made, what must happen: "features" or (stage, reason piece))
def make_world(root: Path, media) -> dict[str, tuple[str, object]]:
    videos = root / "videos"
    videos.mkdir()
    good = clip(videos / "good.mp4", 3.0)
    kinds: dict[str, tuple[str, object]] = {"good": ("good.mp4", "features")}

    def add(kind: str, name: str, expect: object) -> Path:
        kinds[kind] = (name, expect)
        return videos / name

    shutil.copy(
        good, add("file name with spaces, quotes, $(...), ;, non-ASCII", NASTY_NAME, "features")
    )
    add("zero bytes", "zero.mp4", ("probe", "empty file")).write_bytes(b"")
    add("garbage bytes", "garbage.mp4", ("probe", "ffprobe failed")).write_bytes(
        np.random.default_rng(0).bytes(50_000)
    )
    data = good.read_bytes()
    add("truncated", "truncated.mp4", ("probe", "")).write_bytes(data[: len(data) // 2])
    clip(add("no audio stream", "silent.mp4", "features"), 3.0, audio=False)
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:sample_rate=44100",
        "-t",
        "3",
        "-c:a",
        "aac",
        str(add("no video stream", "audio_only.m4a", ("probe", "no video stream"))),
    )
    clip(add("0.3-s video", "short.mp4", ("probe", "too short")), 0.3)
    clip(
        add("variable frame rate", "vfr.mp4", "features"),
        3.0,
        rate=30,
        extra=("-vf", "select='not(mod(n\\,3))+lt(t\\,1)'", "-fps_mode", "vfr"),
    )
    clip(add("3840x2160", "uhd.mp4", "features"), 1.2, size="3840x2160")
    clip(add("17x1080 (odd width)", "odd.mp4", "features"), 2.0, size="17x1080", pix_fmt="yuv444p")
    clip(add("1 fps source", "onefps.mp4", "features"), 4.0, rate=1)
    if media.rotated is not None:  # needs an ffmpeg that writes display matrices
        shutil.copy(media.rotated, add("rotated (display matrix)", "rotated.mp4", "features"))
    kinds["file listed but missing"] = ("missing.mp4", ("probe", "file not found"))
    return kinds


def csv_of(names: list[str], path: Path) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["video_id", "path"])
        out.writerows([[f"id{i}", f"videos/{n}"] for i, n in enumerate(names)])
    return path


# Captions (HowTo100M layout) of some videos: a non-UTF-8 segment, a segment ending before it
# starts, and videos with no captions at all. BAD_TEXT stands for bytes that are not UTF-8.
BAD_TEXT = "@@not-utf8@@"
CAPTIONS = {
    "good.mp4": {"start": [0.0, 1.5], "end": [1.5, 3.0], "text": ["cut the onion", "fry it"]},
    NASTY_NAME: {"start": [0.0, 1.0], "end": [1.0, 2.0], "text": [f"bad {BAD_TEXT}", "stir"]},
    "silent.mp4": {"start": [2.0, 0.0], "end": [1.0, 2.5], "text": ["backwards", "pour water"]},
}
CAPTION_FAILURES = {NASTY_NAME: "UTF-8", "silent.mp4": "end"}


def write_captions(names: list[str], path: Path) -> Path:
    entries = {f"id{i}": CAPTIONS[n] for i, n in enumerate(names) if n in CAPTIONS}
    data = json.dumps(entries).encode().replace(BAD_TEXT.encode(), b"\xff\xfe")
    path.write_bytes(data)
    return path


def run_stages(root: Path, names: list[str], out: Path) -> dict:
    """manifest -> probe -> every extractor for one shard of `names`; exit codes and tables."""
    out.mkdir()
    codes = {}
    codes["manifest"] = manifest.main(
        [
            "--dataset",
            "t",
            "--videos",
            str(csv_of(names, out / "videos.csv")),
            "--root",
            str(root),
            "--captions",
            str(write_captions(names, out / "caption.json")),
            "--shard-size",
            "100",
            "--out-manifest",
            str(out / "manifest.parquet"),
            "--out-captions",
            str(out / "captions.parquet"),
            "--out-failures",
            str(out / "mf.parquet"),
        ]
    )
    caption_failures = pq.read_table(out / "mf.parquet").to_pylist()
    codes["probe"] = probe.main(
        [
            "--manifest",
            str(out / "manifest.parquet"),
            "--shard",
            "0",
            "--out",
            str(out / "probed.parquet"),
            "--out-failures",
            str(out / "pf.parquet"),
        ]
    )
    failures = pq.read_table(out / "pf.parquet").to_pylist()
    features = {}
    for backbone in BACKBONES:
        codes[backbone] = extract.main(
            [
                "--backbone",
                backbone,
                "--probed",
                str(out / "probed.parquet"),
                "--weights",
                "random",
                "--batch-size",
                "4",
                "--device",
                "cpu",
                "--threads",
                "2",
                "--out",
                str(out / f"{backbone}.parquet"),
                "--out-failures",
                str(out / f"{backbone}-failures.parquet"),
            ]
        )
        rows = pq.read_table(out / f"{backbone}.parquet").to_pylist()
        features[backbone] = {r["video_id"]: r for r in rows}
        failures += pq.read_table(out / f"{backbone}-failures.parquet").to_pylist()
    codes["text"] = text.main(
        [
            "--encoder",
            "word2vec",
            "--probed",
            str(out / "probed.parquet"),
            "--captions",
            str(out / "captions.parquet"),
            "--weights",
            "random",
            "--device",
            "cpu",
            "--out",
            str(out / "text.parquet"),
            "--out-failures",
            str(out / "text-failures.parquet"),
        ]
    )
    segments: dict[str, list] = {}
    for row in pq.read_table(out / "text.parquet").to_pylist():
        segments.setdefault(row["video_id"], []).append(row)
    features["text"] = segments
    failures += pq.read_table(out / "text-failures.parquet").to_pylist()
    return {
        "codes": codes,
        "failures": failures,
        "features": features,
        "caption_failures": caption_failures,
    }


@pytest.fixture(scope="module")
def suite(media, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_world")
    kinds = make_world(root, media)
    names = [name for name, _ in kinds.values()]
    mixed = run_stages(root, names, root / "mixed")
    good = [name for name, expect in kinds.values() if expect == "features"]
    clean = run_stages(root, good, root / "clean")
    ids = {name: f"id{i}" for i, name in enumerate(names)}
    clean_ids = {name: f"id{i}" for i, name in enumerate(good)}
    return kinds, ids, clean_ids, mixed, clean


def test_no_stage_crashes_on_the_mixed_shard(suite):
    _, _, _, mixed, _ = suite
    assert mixed["codes"] == dict.fromkeys(mixed["codes"], 0)


def test_every_bad_input_is_a_failures_row_with_stage_and_reason(suite):
    kinds, ids, _, mixed, _ = suite
    by_id: dict[str, list[dict]] = {}
    for row in mixed["failures"]:
        by_id.setdefault(row["video_id"], []).append(row)
    for kind, (name, expect) in kinds.items():
        if expect == "features":
            continue
        stage, reason = expect
        rows = by_id.get(ids[name], [])
        assert rows, f"{kind}: no failures row"
        assert rows[0]["stage"] == stage and reason in rows[0]["error"], (kind, rows)


def test_every_usable_video_has_features_equal_to_a_clean_shards(suite):
    kinds, ids, clean_ids, mixed, clean = suite
    for kind, (name, expect) in kinds.items():
        for backbone in BACKBONES:
            row = mixed["features"][backbone].get(ids[name])
            if expect != "features":
                assert row is None, (kind, backbone)
                continue
            assert row is not None, f"{kind}: no {backbone} features"
            if backbone == "logmel" and kind == "no audio stream":
                assert row["has_audio"] is False and row["features"] == []
                continue
            assert len(row["features"]) > 0 and np.all(np.diff(row["times_s"]) > 0), kind
            ref = clean["features"][backbone][clean_ids[name]]
            np.testing.assert_array_equal(
                np.asarray(row["features"], np.float32),
                np.asarray(ref["features"], np.float32),
                err_msg=f"{kind} / {backbone}",
            )


def test_bad_captions_drop_only_their_segments_and_the_rest_is_embedded(suite):
    kinds, ids, clean_ids, mixed, clean = suite
    failed = {(r["video_id"], r["stage"]): r["error"] for r in mixed["caption_failures"]}
    for name, needle in CAPTION_FAILURES.items():
        assert needle in failed[(ids[name], "captions")], name
    texts = mixed["features"]["text"]
    # one good segment is left of each damaged video; videos without captions have no rows
    assert [r["segment"] for r in texts[ids[NASTY_NAME]]] == [1]
    assert [r["segment"] for r in texts[ids["silent.mp4"]]] == [1]
    assert [r["segment"] for r in texts[ids["good.mp4"]]] == [0, 1]
    assert set(texts) == {ids[n] for n in CAPTIONS}
    for name in CAPTIONS:
        ours, ref = texts[ids[name]], clean["features"]["text"][clean_ids[name]]
        assert [r["features"] for r in ours] == [r["features"] for r in ref], name


def test_a_shell_in_the_name_ran_nothing(suite):
    kinds, *_ = suite
    assert not any(Path(p).name == "pwned" for p in Path.cwd().iterdir())


@pytest.mark.parametrize(
    "rows, needle",
    [
        ([["a", "videos/good.mp4"], ["a", "videos/silent.mp4"]], "duplicate video ids: a"),
        ([["a", "../outside.mp4"]], "outside the data root"),
    ],
)
def test_bad_manifest_rows_stop_before_any_work(tmp_path, rows, needle, capsys):
    csv_path = tmp_path / "videos.csv"
    csv_path.write_text("video_id,path\n" + "".join(f"{a},{b}\n" for a, b in rows))
    out = tmp_path / "out"
    code = run(
        manifest.main,
        [
            "--dataset",
            "t",
            "--videos",
            str(csv_path),
            "--root",
            str(tmp_path),
            "--shard-size",
            "4",
            "--out-manifest",
            str(out / "m.parquet"),
            "--out-captions",
            str(out / "c.parquet"),
            "--out-failures",
            str(out / "f.parquet"),
        ],
        "eao manifest",
    )
    assert code == 2 and needle in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_compass(suite, record_compass):
    kinds, ids, _, mixed, _ = suite
    crashed = sum(code != 0 for code in mixed["codes"].values())
    usable = [n for n, e in kinds.values() if e == "features"]
    lost = sum(ids[n] not in mixed["features"][b] for n in usable for b in BACKBONES)
    lost += sum(ids[n] not in mixed["features"]["text"] for n in CAPTIONS)
    odd = [k for k, (_, e) in kinds.items() if e == "features" and k != "good"]
    odd.append("videos without captions")
    bad = [k for k, (_, e) in kinds.items() if e != "features"]
    bad += [
        "duplicate video ids",
        "path outside the data root",
        "non-UTF-8 caption",
        "caption ending before it starts",
    ]
    record_compass(
        "bad inputs",
        {
            "kinds of input tried": len(bad) + len(odd),
            "bad (failures rows or refused before work)": f"{len(bad)}: {', '.join(bad)}",
            "odd but usable (all features)": f"{len(odd)}: {', '.join(odd)}",
            "jobs crashed": crashed,
            "good videos lost": lost,
        },
    )
    assert crashed == 0 and lost == 0
