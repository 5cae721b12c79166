"""eao.ingest.probe: one shard of a manifest probed with ffprobe; bad files become failures rows."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from eao.ingest.probe import main, probe_row, probe_shard
from eao.io.parquet import FAILURES, MANIFEST, table_from_rows, write_table

GOOD = ["good", "good_faststart", "no_audio", "weird"]
# name in Media -> a piece of the error message
BAD = {
    "empty": "empty file",
    "truncated_faststart": "truncated",
    "truncated_end": "ffprobe failed",
    "text": "ffprobe failed",
    "audio_only": "no video stream",
    "short": "too short",
    "missing": "file not found",
}


def manifest_row(video_id: str, path: Path, shard: int = 0) -> dict:
    return {"video_id": video_id, "path": str(path), "dataset": "t", "split": None, "shard": shard}


def write_manifest(path: Path, rows: list[dict]) -> Path:
    write_table(table_from_rows(rows, MANIFEST), str(path), {"table": "manifest"})
    return path


@pytest.fixture(scope="module")
def mixed(media, tmp_path_factory) -> tuple[dict, list[dict]]:
    """Shard 1 of a manifest with every good and bad file interleaved (shards 0, 2 as decoys)."""
    names = [n for pair in zip(GOOD, list(BAD)[: len(GOOD)], strict=True) for n in pair]
    names += list(BAD)[len(GOOD) :]
    rows = [manifest_row("decoy0", media.good, shard=0)]
    rows += [manifest_row(n, getattr(media, n), shard=1) for n in names]
    rows += [manifest_row("decoy2", media.missing, shard=2)]
    path = write_manifest(tmp_path_factory.mktemp("mixed") / "manifest.parquet", rows)
    probed, failures = probe_shard(str(path), 1)
    assert [r["video_id"] for r in probed] == names  # manifest order, only shard 1
    return {r["video_id"]: r for r in probed}, failures


def test_every_bad_file_has_an_error_and_one_failures_row(mixed):
    probed, failures = mixed
    assert sorted(f["video_id"] for f in failures) == sorted(BAD)
    for name, needle in BAD.items():
        row = probed[name]
        assert row["error"], name
        assert needle in row["error"], (name, row["error"])
        [failure] = [f for f in failures if f["video_id"] == name]
        assert failure == {
            "video_id": name,
            "path": row["path"],
            "stage": "probe",
            "error": row["error"],
        }
    assert set(failures[0]) == set(FAILURES.names)


def test_every_good_file_is_measured(mixed, media):
    probed, _ = mixed
    for name in GOOD:
        row = probed[name]
        assert row["error"] is None, (name, row["error"])
        assert row["duration_s"] == pytest.approx(media.seconds, abs=0.1), name
        assert row["fps"] == pytest.approx(media.fps), name
        assert (row["width"], row["height"]) == (media.width, media.height), name
        assert row["has_video"] is True, name
        assert row["has_audio"] is (name != "no_audio"), name


def test_bad_files_details(mixed, media):
    probed, _ = mixed
    assert probed["audio_only"]["has_video"] is False
    assert probed["audio_only"]["has_audio"] is True
    assert probed["audio_only"]["error"].startswith("no video stream")
    assert probed["short"]["duration_s"] == pytest.approx(0.3, abs=0.1)
    assert probed["missing"]["error"] == "file not found"
    assert probed["empty"]["error"] == "empty file (0 bytes)"
    # Header intact, samples missing: only the decode check notices.
    assert probed["truncated_faststart"]["duration_s"] == pytest.approx(media.seconds, abs=0.1)


def test_probe_rows_keep_manifest_fields(mixed, media):
    probed, _ = mixed
    row = probed["weird"]
    assert row["path"] == str(media.weird)
    assert (row["dataset"], row["split"], row["shard"]) == ("t", None, 1)
    assert set(row) == set(MANIFEST.names)


def test_good_rows_do_not_depend_on_bad_neighbours(mixed, media, tmp_path):
    probed, _ = mixed
    rows = [manifest_row(n, getattr(media, n), shard=1) for n in GOOD]
    alone, failures = probe_shard(str(write_manifest(tmp_path / "m.parquet", rows)), 1)
    assert failures == []
    assert alone == [probed[n] for n in GOOD]


def test_shell_metacharacters_in_file_name_are_harmless(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    row = probe_row(manifest_row("weird", media.weird), decode_check=True, min_duration_s=1.0)
    assert row["error"] is None
    assert row["duration_s"] == pytest.approx(media.seconds, abs=0.1)
    for folder in (tmp_path, media.root, Path.cwd()):
        assert not (folder / "pwned").exists()


def test_decode_check_is_what_catches_a_faststart_truncated_file(media):
    # An mp4 with its index in front keeps valid headers when cut short: ffprobe alone reports
    # the full duration. Only decoding near the end finds that the samples are missing.
    row = manifest_row("t", media.truncated_faststart)
    trusted = probe_row(row, decode_check=False, min_duration_s=1.0)
    assert trusted["error"] is None
    assert trusted["duration_s"] == pytest.approx(media.seconds, abs=0.1)
    checked = probe_row(row, decode_check=True, min_duration_s=1.0)
    assert "truncated" in checked["error"]
    # With the index at the end, the cut file has no index at all: refused either way.
    lost = probe_row(manifest_row("e", media.truncated_end), decode_check=False, min_duration_s=1)
    assert lost["error"]


def test_min_duration_is_configurable(media):
    row = manifest_row("s", media.short)
    assert probe_row(row, decode_check=True, min_duration_s=0.1)["error"] is None
    assert "too short" in probe_row(row, decode_check=True, min_duration_s=1.0)["error"]


def test_rotated_video_reports_displayed_size(media):
    if media.rotated is None:
        pytest.skip("this ffmpeg cannot write a display rotation")
    row = probe_row(manifest_row("r", media.rotated), decode_check=True, min_duration_s=1.0)
    assert row["error"] is None
    assert (row["width"], row["height"]) == (media.height, media.width)


def test_empty_shard_is_an_input_error(media, tmp_path):
    path = write_manifest(tmp_path / "m.parquet", [manifest_row("a", media.good, shard=0)])
    with pytest.raises(ValueError, match="shard 3 has no videos"):
        probe_shard(str(path), 3)


def test_main_writes_both_tables_atomically_and_succeeds_with_bad_files(media, tmp_path, capsys):
    rows = [
        manifest_row("good", media.good),
        manifest_row("empty", media.empty),
        manifest_row("weird", media.weird),
        manifest_row("missing", media.missing),
        manifest_row("other_shard", media.text, shard=1),
    ]
    manifest = write_manifest(tmp_path / "manifest.parquet", rows)
    out = tmp_path / "probe" / "shard-0"
    rc = main(
        [
            "--manifest",
            str(manifest),
            "--shard",
            "0",
            "--out",
            str(out / "manifest.parquet"),
            "--out-failures",
            str(out / "failures.parquet"),
        ]
    )
    assert rc == 0
    assert sorted(os.listdir(out)) == ["failures.parquet", "manifest.parquet"]  # no *.tmp left

    probed = pq.read_table(out / "manifest.parquet")
    failures = pq.read_table(out / "failures.parquet")
    assert probed.schema.remove_metadata() == MANIFEST
    assert failures.schema.remove_metadata() == FAILURES
    assert probed.schema.metadata[b"table"] == b"manifest"
    assert failures.schema.metadata[b"table"] == b"failures"
    assert probed.schema.metadata[b"shard"] == b"0"
    assert probed.column("video_id").to_pylist() == ["good", "empty", "weird", "missing"]
    assert probed.column("error").to_pylist()[0] is None
    assert probed.column("error").to_pylist()[2] is None
    assert failures.column("video_id").to_pylist() == ["empty", "missing"]
    assert set(failures.column("stage").to_pylist()) == {"probe"}
    assert "2 usable, 2 failed" in capsys.readouterr().out
