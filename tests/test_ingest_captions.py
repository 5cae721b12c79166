"""eao.ingest: YouCook2 and MSR-VTT lists, and the benchmarks' annotations read as captions and
splits (eao.ingest.captions) through `eao manifest`."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ingest_files import SRT, TASKS, make_release, raises_naming, videos_csv, write

from eao.errors import run
from eao.ingest.captions import CAPTION_FORMATS, read_captions
from eao.ingest.manifest import ManifestError, build, main
from eao.ingest.msrvtt import read_msrvtt_test_list, read_msrvtt_train_list
from eao.ingest.youcook2 import read_youcook2_val_clips, youcook2_splits
from eao.io.parquet import CAPTIONS

# --- YouCook2 and MSR-VTT lists -----------------------------------------------------------------


def test_read_youcook2_val_clips_mil_nce_layout(tmp_path):
    path = write(
        tmp_path / "validation_youcook.csv",
        "\ufeffend,start,task,text,video_id\r\n"
        '25,12,113,"add oil, then the onions",xHr8X2Wpmno\r\n'
        "40,31,113,stir,xHr8X2Wpmno\r\n",
    )
    clips = read_youcook2_val_clips(str(path))
    assert clips == [
        dict(
            video_id="xHr8X2Wpmno",
            start=12.0,
            end=25.0,
            task="113",
            text="add oil, then the onions",
        ),
        dict(video_id="xHr8X2Wpmno", start=31.0, end=40.0, task="113", text="stir"),
    ]
    no_task = write(tmp_path / "val_clips.csv", "video_id,start,end,text\nv,0,3,hi\n")
    assert read_youcook2_val_clips(str(no_task))[0]["task"] is None


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("end,start,task,video_id\n3,1,5,v\n", ["no column text"]),
        ("end,start,text,video_id\n1,3,a,v\n", ["line 2", "bad times start=3.0 end=1.0"]),
        ("end,start,text,video_id\nx,3,a,v\n", ["line 2", "end 'x' is not a number"]),
        ("end,start,text,video_id\n3,1,a\n", ["line 2", "3 fields but the header has 4"]),
        ("", ["empty file"]),
    ],
    ids=["missing-column", "end-before-start", "not-number", "short-row", "empty"],
)
def test_bad_youcook2_val_clips(tmp_path, text, needles):
    path = write(tmp_path / "val_clips.csv", text)
    with raises_naming(path, *needles):
        read_youcook2_val_clips(str(path))


def test_youcook2_splits(tmp_path):
    path = write(
        tmp_path / "y.json",
        '{"database": {"a": {"subset": "training"}, "b": {"subset": "validation"}}}',
    )
    assert youcook2_splits(str(path)) == {"a": "training", "b": "validation"}
    bad = write(tmp_path / "bad.json", '{"database": {"a": {"segments": []}}}')
    with raises_naming(bad, "not a YouCook2 annotation file"):
        youcook2_splits(str(bad))
    broken = write(tmp_path / "broken.json", '{"database":\n {')
    with raises_naming(broken, "line 2", "not a JSON file"):
        youcook2_splits(str(broken))


def test_msrvtt_lists(tmp_path):
    test = write(
        tmp_path / "MSRVTT_JSFUSION_test.csv",
        'key,vid_key,video_id,sentence\nret0,msr9770,video9770,"a person, cooking"\n'
        "ret1,msr7010,video7010,a cat\n",
    )
    assert read_msrvtt_test_list(str(test)) == {
        "video9770": "a person, cooking",
        "video7010": "a cat",
    }
    dup = write(tmp_path / "dup.csv", "video_id,sentence\nvideo1,a\nvideo1,b\n")
    with raises_naming(dup, "line 3", "video video1 is listed twice"):
        read_msrvtt_test_list(str(dup))
    no_col = write(tmp_path / "nocol.csv", "key,vid_key,video_id\nret0,msr1,video1\n")
    with raises_naming(no_col, "no column sentence"):
        read_msrvtt_test_list(str(no_col))
    train = write(tmp_path / "MSRVTT_train.7k.csv", "video_id\r\nvideo0\r\nvideo1\r\n")
    assert read_msrvtt_train_list(str(train)) == ["video0", "video1"]
    headerless = write(tmp_path / "t.csv", "video0\nvideo1\nvideo0\n")
    assert read_msrvtt_train_list(str(headerless)) == ["video0", "video1"]
    wrong = write(tmp_path / "w.csv", "id\nvideo0\n")
    with raises_naming(wrong, "no column video_id"):
        read_msrvtt_train_list(str(wrong))


# --- manifest adapters --------------------------------------------------------------------------


def test_caption_formats_include_the_benchmarks():
    assert {"crosstask", "mining_youtube"} <= set(CAPTION_FORMATS)


def test_crosstask_captions_and_splits(tmp_path):
    rel = make_release(tmp_path / "crosstask_release")
    csv_path = videos_csv(
        tmp_path / "videos.csv", ["v1", "v3", "val1", "rel", "other", "v2"], {"v2": "mine"}
    )
    rows, captions, failures = build(
        str(csv_path), str(tmp_path), "crosstask", 4, str(rel / "tasks_primary.txt"), "crosstask"
    )
    assert failures == []
    by_video: dict[str, list] = {}
    for c in captions:
        assert c["start_s"] == c["end_s"] == 0.0  # queries, not timed captions
        by_video.setdefault(c["video_id"], []).append((c["segment"], c["text"]))
    assert by_video == {
        "v1": [(0, "brake on"), (1, "place jack"), (2, "raise jack")],  # first task wins
        "v3": [(0, "pour water"), (1, "stir mixture")],
        "val1": [(0, "brake on"), (1, "place jack"), (2, "raise jack")],
        "v2": [(0, "brake on"), (1, "place jack"), (2, "raise jack")],
    }  # 'rel' (related task) and 'other' (not listed) get no rows
    splits = {r["video_id"]: r["split"] for r in rows}
    assert splits == {
        "v1": "test",
        "v3": "test",
        "val1": "val",
        "rel": "test",
        "other": None,
        "v2": "mine",
    }


def test_mining_youtube_captions_and_splits(tmp_path):
    folder = tmp_path / "mining_youtube"
    write(folder / "weakYouTube_dict.txt", "beat_mixture\ncrack_eggs\nbackground\n")
    write(folder / "videos_test.txt", "v1\nv2\nv3\n")
    write(folder / "videos_val.txt", "v2\n")
    write(folder / "annotations" / "v1.srt", SRT)
    write(folder / "annotations" / "v2.srt", SRT.split("\n\n")[1] + "\n")
    csv_path = videos_csv(tmp_path / "videos.csv", ["v1", "v2", "v3", "x"])
    rows, captions, failures = build(
        str(csv_path), str(folder), "myt", 8, str(folder / "weakYouTube_dict.txt"), "mining_youtube"
    )
    assert failures == []
    got = [(c["video_id"], c["segment"], c["text"], c["start_s"], c["end_s"]) for c in captions]
    assert got == [
        ("v1", 0, "crack eggs", 7.0, 12.5),
        ("v1", 1, "beat mixture", 12.5, pytest.approx(20.04)),
        ("v1", 2, "pour egg whites", pytest.approx(3723.004), 3725.0),
        ("v1", 3, "beat mixture", 3726.0, 3729.0),  # a repeat is its own occurrence
        ("v2", 0, "beat mixture", 12.5, pytest.approx(20.04)),
    ]
    assert {r["video_id"]: r["split"] for r in rows} == {
        "v1": "test",
        "v2": "val",
        "v3": "test",
        "x": None,
    }


def test_malformed_benchmark_file_stops_the_manifest(tmp_path):
    folder = tmp_path / "mining_youtube"
    write(folder / "weakYouTube_dict.txt", "background\n")
    bad = write(folder / "annotations" / "v1.srt", "1\n00:00:01,000 --> 00:00:02,000\n")
    csv_path = videos_csv(tmp_path / "videos.csv", ["v1"])
    with raises_naming(bad, "truncated block"):
        build(
            str(csv_path),
            str(folder),
            "myt",
            8,
            str(folder / "weakYouTube_dict.txt"),
            "mining_youtube",
        )


def msrvtt_files(folder: Path, with_lists: bool = True) -> Path:
    data = {
        "videos": [
            {"video_id": f"video{i}", "start time": 0.0, "end time": 10.0 + i} for i in range(4)
        ],
        "sentences": [
            {"video_id": "video0", "sen_id": 0, "caption": "a dog runs"},
            {"video_id": "video0", "sen_id": 1, "caption": "a man cooks"},
            {"video_id": "video0", "sen_id": 2, "caption": "someone sings"},
            {"video_id": "video1", "sen_id": 3, "caption": "cars race"},
            {"video_id": "video2", "sen_id": 4, "caption": "kids play"},
        ],
    }
    write(folder / "MSRVTT_data.json", json.dumps(data))
    if with_lists:
        write(
            folder / "MSRVTT_JSFUSION_test.csv",
            "key,vid_key,video_id,sentence\n"
            "ret0,msr0,video0,A  man cooks\n"  # among the captions (case, spaces differ)
            "ret1,msr1,video1,a red car wins\n"  # not among them: inserted
            "ret2,msr3,video3,an empty room\n",  # no captions at all
        )
        write(folder / "MSRVTT_train.7k.csv", "video_id\nvideo2\nvideo0\n")
    return folder / "MSRVTT_data.json"


def test_msrvtt_jsfusion_sentence_is_segment_0_and_splits(tmp_path):
    data = msrvtt_files(tmp_path)
    csv_path = videos_csv(tmp_path / "videos.csv", ["video0", "video1", "video2", "video3"])
    rows, captions, failures = build(str(csv_path), str(tmp_path), "msrvtt", 8, str(data), "msrvtt")
    assert failures == []
    got = [(c["video_id"], c["segment"], c["text"], c["end_s"]) for c in captions]
    assert got == [
        ("video0", 0, "A  man cooks", 10.0),
        ("video0", 1, "a dog runs", 10.0),
        ("video0", 2, "someone sings", 10.0),
        ("video1", 0, "a red car wins", 11.0),
        ("video1", 1, "cars race", 11.0),
        ("video2", 0, "kids play", 12.0),
        ("video3", 0, "an empty room", 13.0),
    ]
    # test wins over train (video0 is in both lists)
    assert [r["split"] for r in rows] == ["test", "test", "train", "test"]


def test_msrvtt_without_lists_keeps_caption_order_and_no_split(tmp_path):
    data = msrvtt_files(tmp_path, with_lists=False)
    csv_path = videos_csv(tmp_path / "videos.csv", ["video0", "video3"])
    rows, captions, _ = build(str(csv_path), str(tmp_path), "msrvtt", 8, str(data), "msrvtt")
    assert [c["text"] for c in captions] == ["a dog runs", "a man cooks", "someone sings"]
    assert [r["split"] for r in rows] == [None, None]


def test_youcook2_splits_fill_only_empty_cells(tmp_path):
    path = write(
        tmp_path / "youcookii_annotations_trainval.json",
        '{"database": {"a": {"subset": "training", "annotations": []},'
        ' "b": {"subset": "validation", "annotations": [{"segment": [1, 4], "sentence": "s"}]}}}',
    )
    csv_path = videos_csv(tmp_path / "videos.csv", ["a", "b", "c"], {"a": "validation"})
    rows, captions, _ = build(str(csv_path), str(tmp_path), "yc2", 8, str(path), "youcook2")
    assert [r["split"] for r in rows] == ["validation", "validation", None]
    assert [(c["video_id"], c["start_s"], c["end_s"]) for c in captions] == [("b", 1.0, 4.0)]


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ManifestError, match="unknown captions format"):
        read_captions(str(tmp_path / "x"), [], "nope")


def test_cli_accepts_the_benchmark_formats(tmp_path, capsys):
    rel = make_release(tmp_path / "crosstask_release")
    csv_path = videos_csv(tmp_path / "videos.csv", ["v1", "v2"])
    out = tmp_path / "out"
    argv = [
        "--dataset",
        "crosstask",
        "--videos",
        str(csv_path),
        "--root",
        str(tmp_path),
        "--captions",
        str(rel / "tasks_primary.txt"),
        "--captions-format",
        "crosstask",
        "--shard-size",
        "1",
        "--out-manifest",
        str(out / "m.parquet"),
        "--out-captions",
        str(out / "c.parquet"),
        "--out-failures",
        str(out / "f.parquet"),
    ]
    assert main(argv) == 0
    captions = pq.read_table(out / "c.parquet")
    assert captions.schema.remove_metadata() == CAPTIONS
    assert captions.num_rows == 6
    assert [r["split"] for r in pq.read_table(out / "m.parquet").to_pylist()] == ["test", "test"]
    assert "6 caption segments for 2 videos" in capsys.readouterr().out
    (rel / "tasks_primary.txt").write_text(TASKS.replace("\n3\n", "\n4\n"), encoding="utf-8")
    assert run(main, argv, "eao manifest") == 2
    err = capsys.readouterr().err
    assert "eao manifest: error: dataset crosstask" in err and "tasks_primary.txt, line 5" in err
