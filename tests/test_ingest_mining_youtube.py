"""eao.ingest.mining_youtube: srt files as distributed (times with '.' or ',', numbered or not),
malformed ones named by file and line, the step lists and the video lists."""

import pytest
from ingest_files import SRT, raises_naming, write

from eao.ingest.mining_youtube import mining_annotations, mining_steps, read_mining_videos, read_srt

# --- Mining YouTube -----------------------------------------------------------------------------

SEGMENTS = [
    ("crack_eggs", 7.0, 12.5),
    ("beat_mixture", 12.5, 20.04),
    ("pour_egg_whites", 3723.004, 3725.0),
    ("beat_mixture", 3726.0, 3729.0),
]


def approx_segments(segments):
    return [(label, pytest.approx(s), pytest.approx(e)) for label, s, e in segments]


@pytest.mark.parametrize(
    "variant",
    ["plain", "crlf-bom-trailing", "dot-millis", "no-numbers", "short-millis"],
)
def test_read_srt_variants(tmp_path, variant):
    text = SRT
    if variant == "crlf-bom-trailing":
        text = "\ufeff" + SRT.replace("\n", "\r\n") + "\r\n\r\n\r\n"
    elif variant == "dot-millis":
        text = SRT.replace(",", ".")
    elif variant == "no-numbers":
        text = "\n\n".join(b.split("\n", 1)[1] for b in SRT.split("\n\n"))
    elif variant == "short-millis":
        text = SRT.replace(",500", ",5").replace(",040", ",04")
    path = write(tmp_path / "vid.srt", text)
    assert read_srt(str(path)) == approx_segments(SEGMENTS)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (SRT + "\n5\n01:03:00,000 --> 01:03:01,000\n", ["line 18", "truncated block"]),
        (SRT + "\n5\n", ["line 17", "truncated block 5 (no time line)"]),
        (
            SRT.replace("00:00:12,500 --> 00:00:20,040", "00:00:12 500 -> 00:00:20"),
            ["line 6", "bad time line"],
        ),
        (
            SRT.replace("00:00:12,500 --> 00:00:20,040", "00:00:20,040 --> 00:00:12,500"),
            ["line 6", "end 12.5 is before start 20.04"],
        ),
        (SRT.replace("crack_eggs\n\n", "crack_eggs\n"), ["line 2", "4 label lines"]),
        (SRT.replace("3\n01:02:03", "three\n01:02:03"), ["line 9", "expected a block number"]),
        (SRT.replace("00:00:07,000", "00:61:07,000"), ["line 2", "bad time line"]),
        (SRT.encode() + b"\n5\n01:03:00,000 --> 01:03:01,000\n\xe9uf\n", ["line 19", "not UTF-8"]),
    ],
    ids=[
        "no-label",
        "no-time-line",
        "bad-arrow",
        "end-before-start",
        "missing-blank-line",
        "bad-number",
        "minutes-over-59",
        "not-utf8",
    ],
)
def test_bad_srt(tmp_path, text, needles):
    path = write(tmp_path / "annotations" / "vid.srt", text)
    with raises_naming(path, *needles):
        read_srt(str(path))


def test_mining_steps_occurrences_and_unique():
    texts, intervals = mining_steps(SEGMENTS)
    assert texts == ["crack eggs", "beat mixture", "pour egg whites", "beat mixture"]
    assert intervals == [[(7.0, 12.5)], [(12.5, 20.04)], [(3723.004, 3725.0)], [(3726.0, 3729.0)]]
    texts, intervals = mining_steps(SEGMENTS, mode="unique")
    assert texts == ["crack eggs", "beat mixture", "pour egg whites"]
    assert intervals == [[(7.0, 12.5)], [(12.5, 20.04), (3726.0, 3729.0)], [(3723.004, 3725.0)]]
    assert mining_steps([]) == ([], [])
    with pytest.raises(ValueError, match="'occurrences' or 'unique'"):
        mining_steps(SEGMENTS, mode="background")


def test_read_mining_videos(tmp_path):
    text = "\ufeff-1okAudsnAc\r\nabc_DEF-123\r\n\r\n-1okAudsnAc\n"
    path = write(tmp_path / "videos_test.txt", text)
    assert read_mining_videos(str(path)) == ["-1okAudsnAc", "abc_DEF-123"]
    bad = write(tmp_path / "videos_val.txt", "a\nb c\n")
    with raises_naming(bad, "line 2", "expected one video id"):
        read_mining_videos(str(bad))


def test_mining_annotations(tmp_path):
    write(tmp_path / "videos_test.txt", "v1\nv2\nno_srt\n")
    write(tmp_path / "annotations" / "v1.srt", SRT)
    write(tmp_path / "annotations" / "v2.srt", SRT.split("\n\n")[0] + "\n")
    write(tmp_path / "annotations" / "extra.srt", SRT)
    ann = mining_annotations(str(tmp_path))
    assert list(ann) == ["v1", "v2"]  # videos_test.txt decides; a missing srt is left out
    assert ann["v1"] == approx_segments(SEGMENTS)
    assert ann["v2"] == [("crack_eggs", 7.0, 12.5)]
    assert list(mining_annotations(str(tmp_path), ["extra", "gone"])) == ["extra"]
