"""A retrieval benchmark of your own, by config alone (docs/benchmarks.md, "Your own retrieval
benchmark"): the generic captions layout (eao.ingest.generic), the your_benchmarks table
(eao.tables.yours), and the page's files and config run through the workflow, in a copy of the
repository, up to that table."""

from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ingest_files import raises_naming, write
from repo_clone import clone, snakemake
from snakemake.utils import validate

from eao.errors import BadInput
from eao.ingest.captions import CAPTION_FORMATS, annotation_splits, read_captions
from eao.ingest.generic import read_generic
from eao.ingest.manifest import build
from eao.tables.__main__ import main as tables_main
from eao.tables.build import Config, given_results, result_keys
from eao.tables.yours import NAME, PAPER_DATASETS, is_yours
from eao.workflow import options as opt
from eao.workflow import plan

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Your own retrieval benchmark"
HEADER = "video_id,start_s,end_s,caption,split\n"


def section() -> str:
    text = (REPO / "docs" / "benchmarks.md").read_text()
    return text[text.index(SECTION) :].split("\n## ", 1)[0]


def page_blocks(kind: str) -> list[str]:
    """The section's code blocks of one kind (csv, json, yaml), in page order."""
    return re.findall(rf"```{kind}\n(.*?)```", section(), re.S)


def page_files(folder: Path) -> tuple[Path, Path, Path]:
    """The page's videos.csv, captions.csv and captions as JSON lines, written under `folder`."""
    videos, captions = page_blocks("csv")
    (jsonl,) = page_blocks("json")
    return (
        write(folder / "videos.csv", videos),
        write(folder / "captions.csv", captions),
        write(folder / "captions.jsonl", jsonl),
    )


# --- the generic layout ----------------------------------------------------------------------


def test_the_pages_files_are_read_as_captions_and_splits(tmp_path: Path):
    videos, captions, jsonl = page_files(tmp_path)
    assert "generic" in CAPTION_FORMATS

    def clips(path: Path) -> list[dict]:
        return [{k: v for k, v in c.items() if k != "line"} for c in read_generic(str(path))]

    assert clips(jsonl) == clips(captions)  # the same clips in both layouts
    for path in (captions, jsonl):
        rows, caps, failures = build(str(videos), str(tmp_path), "kitchen", 8, str(path), "generic")
        assert failures == []
        got = [(c["video_id"], c["segment"], c["start_s"], c["end_s"], c["text"]) for c in caps]
        assert got == [
            ("pasta_01", 0, 0.0, 1.5, "boil the water, then add the salt"),
            ("pasta_01", 1, 1.5, 3.0, "drain the pasta"),
            ("pasta_02", 0, 0.0, 3.0, "stir the tomato sauce"),
            ("soup_01", 0, 0.5, 2.5, "chop the carrots"),
        ]
        assert {r["video_id"]: r["split"] for r in rows} == dict.fromkeys(
            ("pasta_01", "pasta_02", "soup_01"), "test"
        )


def test_what_real_files_have_is_accepted(tmp_path: Path):
    """A byte order mark, CRLF line ends, columns in any order, an extra column, blank lines, a
    split left empty or no split column at all; a split of the videos CSV wins."""
    path = write(
        tmp_path / "c.csv",
        "\ufeffnotes,caption,end_s,split,start_s,video_id\r\n"
        'x,"cut, then fry",2,val,0,a\r\n\r\n,stir,3.5,,1,b\r\n\r\n',
    )
    rows = [{"video_id": v, "path": f"{v}.mp4"} for v in ("a", "b", "c")]
    captions, failures = read_captions(str(path), rows, "generic")
    assert failures == [] and [(c["video_id"], c["text"]) for c in captions] == [
        ("a", "cut, then fry"),
        ("b", "stir"),
    ]
    assert annotation_splits(str(path), "generic") == {"a": "val"}
    no_split = write(tmp_path / "n.csv", "video_id,start_s,end_s,caption\na,0,1,x\n")
    assert annotation_splits(str(no_split), "generic") == {}
    videos = write(tmp_path / "videos.csv", "video_id,path,split\na,a.mp4,train\nb,b.mp4,\n")
    rows, _, _ = build(str(videos), str(tmp_path), "d", 8, str(path), "generic")
    assert [r["split"] for r in rows] == ["train", None]


# A bad CSV: its text, and what the error says besides the file's name.
BAD_CSV = {
    "empty": ("", ["empty file"]),
    "header-only": (HEADER, ["no captioned clip"]),
    "missing-column": ("video_id,start_s,caption\na,0,x\n", ["line 1", "no column end_s"]),
    "column-twice": ("video_id,start_s,end_s,caption,caption\na,0,1,x,y\n", ["named twice"]),
    "unquoted-comma": (HEADER + "a,0,1,boil water, add salt,\n", ["line 2", "quote a caption"]),
    "short-row": (HEADER + "a,0,1,x\n", ["line 2", "4 fields but the header has 5"]),
    "empty-id": (HEADER + "a,0,1,x,\n,0,1,y,\n", ["line 3", "empty video_id"]),
    "not-a-number": (HEADER + "a,zero,1,x,\n", ["line 2", "start_s 'zero' is not a number"]),
    "not-finite": (HEADER + "a,0,inf,x,\n", ["line 2", "end_s 'inf' is not a finite number"]),
    "end-before-start": (HEADER + "a,2,1,x,\n", ["line 2", "bad times start_s=2.0 end_s=1.0"]),
    "empty-clip": (HEADER + "a,1,1,x,\n", ["line 2", "need 0 <= start_s < end_s"]),
    "negative-start": (HEADER + "a,-1,1,x,\n", ["line 2", "bad times start_s=-1.0"]),
    "empty-caption": (HEADER + "a,0,1,  ,\n", ["line 2", "empty caption"]),
    "duplicate": (HEADER + "a,0,1,x,\nb,0,1,x,\na,0,1.0,x,\n", ["line 4", "as line 2"]),
    "two-splits": (HEADER + "a,0,1,x,test\na,1,2,y,\na,2,3,z,train\n", ["line 4", "'test'"]),
    "not-utf8": (b"video_id,start_s,end_s,caption\na,0,1,caf\xe9\n", ["line 2", "not UTF-8"]),
}
ROW = {"video_id": "a", "start_s": 0, "end_s": 1, "caption": "x"}
# A bad JSON-lines file: its lines, and what the error says besides the file's name.
BAD_JSON = {
    "broken": ([json.dumps(ROW)[:-1], ""], ["line 1", "not a JSON object"]),
    "not-an-object": ([json.dumps(ROW), "", '["a", 0, 1]'], ["line 3", "not a JSON object but"]),
    "missing-key": (['{"video_id": "a"}'], ["line 1", "no key start_s, end_s, caption"]),
    "numeric-id": ([json.dumps({**ROW, "video_id": 7})], ["line 1", "video_id must be text"]),
    "bool-time": ([json.dumps({**ROW, "start_s": True})], ["start_s True is not a number"]),
    "null-caption": ([json.dumps({**ROW, "caption": None})], ["line 1", "caption must be text"]),
    "end-before-start": ([json.dumps({**ROW, "start_s": 3})], ["bad times start_s=3.0 end_s=1.0"]),
    "numeric-split": ([json.dumps({**ROW, "split": 2})], ["line 1", "split must be text"]),
}


@pytest.mark.parametrize(("text", "needles"), BAD_CSV.values(), ids=BAD_CSV.keys())
def test_a_bad_csv_row_stops_with_file_and_line(tmp_path: Path, text, needles):
    path = write(tmp_path / "captions.csv", text)
    with raises_naming(path, *needles):
        read_captions(str(path), [{"video_id": "a", "path": "a.mp4"}], "generic")


@pytest.mark.parametrize(("lines", "needles"), BAD_JSON.values(), ids=BAD_JSON.keys())
def test_a_bad_json_line_stops_with_file_and_line(tmp_path: Path, lines, needles):
    path = write(tmp_path / "captions.jsonl", "\n".join(lines) + "\n")
    with raises_naming(path, *needles):
        read_captions(str(path), [{"video_id": "a", "path": "a.mp4"}], "generic")


def test_ids_that_match_no_listed_video_stop_the_manifest(tmp_path: Path):
    path = write(tmp_path / "captions.csv", HEADER + "a,0,1,x,\nb,0,1,y,\n")
    videos = write(tmp_path / "videos.csv", "video_id,path\nA,A.mp4\nc,c.mp4\n")
    with raises_naming(path, "no row names a video of the videos CSV", "ids here: a, b"):
        build(str(videos), str(tmp_path), "d", 8, str(path), "generic")
    listed = write(tmp_path / "videos.csv", "video_id,path\na,a.mp4\nc,c.mp4\n")
    rows, captions, _ = build(str(listed), str(tmp_path), "d", 8, str(path), "generic")
    assert [c["video_id"] for c in captions] == ["a"] and len(rows) == 2  # b left out, c none


# --- the table of your benchmarks --------------------------------------------------------------


def retrieval_json(r1: float, tasks: tuple[str, ...] = ("t2v", "t2va")) -> dict:
    metrics = {"R1": r1, "R5": r1 + 20, "R10": r1 + 40, "R50": 100.0, "MedR": 2.0}
    return {
        "clips": 4,
        "complete_size": 4,
        "chance": {"R1": 25.0, "R5": 100.0, "R10": 100.0, "R50": 100.0, "MedR": 2.5},
        "metrics": {task: dict(metrics) for task in tasks},
        "split": "test",
        "strategy": "at_once",
        "provenance": {"video_2d": {"backbone": "resnet152", "weights": "random", "seed": 0}},
    }


def put(path: Path, data: dict | str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def run_tables(evaluations: list[str], out: Path, config: dict) -> None:
    args = ["--config-json", json.dumps(config), "--out", str(out), "--evaluations"]
    assert tables_main([*args, *evaluations]) == 0


def test_your_benchmarks_get_a_row_per_result_with_chance(tmp_path: Path):
    res = tmp_path / "results/evaluate/retrieval"
    given = [
        put(res / "zeroshot/main/kitchen/at_once.json", retrieval_json(50.0)),
        put(res / "zeroshot/main/kitchen/uniform.json", retrieval_json(25.0)),
        put(res / "zeroshot/tv/kitchen/at_once.json", retrieval_json(0.0, ("t2v",))),
        put(res / "finetuned/main/kitchen/at_once.json", retrieval_json(75.0)),
        put(res / "zeroshot/main/garden/at_once.json", "{not json"),
        put(res / "zeroshot/main/youcook2/at_once.json", retrieval_json(10.0)),  # the paper's
    ]
    config = {
        "datasets": ["kitchen", "garden", "youcook2"],
        "ablations_run": ["tv"],
        "variants": {"tv": {"description": "text-video model"}},
    }
    out = tmp_path / "tables"
    run_tables(given, out, config)
    cells = read_csv(out / f"{NAME}.csv")
    rows = list(dict.fromkeys(c["row"] for c in cells))
    assert rows == [
        "garden: main, zero-shot, at_once",
        "kitchen: main, zero-shot, at_once, t→va",
        "kitchen: main, zero-shot, uniform, t→va",
        "kitchen: tv, zero-shot, at_once, t→v",
        "kitchen: main, fine-tuned, at_once, t→va",
    ]
    first = {c["metric"]: c for c in cells if c["row"] == rows[1]}
    assert [first[m]["ours"] for m in ("R1", "R5", "R10", "MedR")] == [
        "50.0",
        "70.0",
        "90.0",
        "2.0",
    ]
    assert [first[m]["chance"] for m in ("R1", "MedR")] == ["25.0", "2.5"]
    assert {c["dataset"] for c in cells} == {"kitchen", "garden"} and not first["R1"]["paper"]
    assert all("unreadable result" in c["reason"] for c in cells if c["dataset"] == "garden")
    md = (out / f"{NAME}.md").read_text()
    assert "| ★ kitchen: main, zero-shot, at_once, t→va | - / 50.0 / 25.0 |" in md
    assert "4/4 clips, split test" in md and "variant tv: text-video model" in md
    assert "RANDOM backbone weights (video_2d)" in md
    assert f"[{NAME}.md]({NAME}.md)" in (out / "index.md").read_text()
    assert "kitchen: main, zero-shot" in (out / f"{NAME}.tex").read_text()
    assert 'id="your_benchmarks"' in (out / f"{NAME}.html").read_text()
    table1 = read_csv(out / "table1_zeroshot_retrieval.csv")
    assert not any(c["dataset"] == "kitchen" for c in table1)


def test_without_a_benchmark_of_your_own_the_table_says_so(tmp_path: Path):
    res = tmp_path / "results/evaluate/retrieval"
    given = [put(res / "zeroshot/main/youcook2/at_once.json", retrieval_json(10.0))]
    out = tmp_path / "tables"
    run_tables(given, out, {"datasets": ["howto", "youcook2"]})
    md = (out / f"{NAME}.md").read_text()
    assert md.startswith("# Not in the paper: Your own retrieval benchmarks: none in this run")
    assert "**None in this run: no retrieval benchmark besides the paper's" in md
    assert "captions_format: generic" in md and "| ★" not in md
    assert read_csv(out / f"{NAME}.csv") == []


def test_which_results_are_yours():
    keys = result_keys(
        Config.from_dict(
            {"datasets": ["kitchen", "youcook2"], "ablations_run": ["tv"], "finetune_variants": []}
        )
    )
    mine = [k for k in keys if "/kitchen/" in k]
    assert "evaluate/retrieval/zeroshot/tv/kitchen/clips.json" in mine
    assert all(is_yours(k) for k in mine) and not any("finetuned" in k for k in mine)
    assert not is_yours("evaluate/retrieval/zeroshot/main/msrvtt/at_once.json")
    assert not is_yours("evaluate/localization/main/kitchen.json")
    assert {"youcook2", "msrvtt", "crosstask", "mining_youtube"} == PAPER_DATASETS
    assert not [k for k in result_keys(Config()) if is_yours(k)]  # no list without datasets
    mine_given = "results/evaluate/retrieval/zeroshot/main/kitchen/at_once.json"
    assert list(given_results([mine_given])) == [mine_given.removeprefix("results/")]
    with pytest.raises(BadInput, match="no table reads this result"):
        given_results(["results/evaluate/localization/main/kitchen.json"])


def test_the_workflow_passes_every_result_of_yours_to_the_tables():
    """The page's config added to the tiny run's: every evaluation of the new benchmark the plan
    makes is an input of rule tables (eao.workflow.options.table_inputs), by config alone."""
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    mine = yaml.safe_load(page_blocks("yaml")[0])
    (name,) = mine["datasets"]
    config["datasets"].update(mine["datasets"])
    config["evaluate"]["retrieval"].update(mine["evaluate"]["retrieval"])
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    made = [p for p in plan.evaluation_outputs(config) if f"/{name}/" in p]
    assert len(made) == 4 + 2  # main: every strategy; tv and s3d: at_once
    assert set(made) <= set(opt.table_inputs(config))


# --- the page, run -----------------------------------------------------------------------------

# Test-only settings merged over the page's config: no demo, a small model pretrained for one
# epoch on the benchmark itself, fewer backbones, at_once only. The page's entries stay as written.
FAST = {
    "demo": {"enabled": False},
    "features": {
        "device": "cpu",
        "clip": {"enabled": False},
        "s3d": {"enabled": False},
        "text": {"word2vec": {"enabled": False}, "clip": {"enabled": False}},
    },
    "model": {"width": 32, "heads": 2, "proj_dim": 32, "audio_channels": [8, 8, 8, 16, 16, 16, 32]},
    "pretrain": {
        "text": "hf",
        "epochs": 1,
        "batch_videos": 2,
        "n_clips": 2,
        "min_time": 1.0,
        "video_tokens": 2,
        "audio_frames": 128,
        "workers": 0,
    },
    "evaluate": {"device": "cpu", "long_videos": {"strategies": []}},
    "ablations": {"run": []},
    "finetune": {"variants": []},
}
LOOKS = [("testsrc", 330), ("smptebars", 440), ("rgbtestsrc", 550), ("testsrc2", 660)]


def make_videos(videos_csv: Path) -> None:
    """A 3-s video (its own picture and tone) at every path the videos CSV lists."""
    with videos_csv.open(newline="") as f:
        paths = [videos_csv.parent / row["path"] for row in csv.DictReader(f)]
    for path, (source, tone) in zip(paths, LOOKS, strict=False):
        path.parent.mkdir(parents=True, exist_ok=True)
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
                f"{source}=size=64x48:rate=10",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={tone}:sample_rate=16000",
                "-t",
                "3",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                str(path),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )


def page_command(workdir: Path) -> tuple[str, list[str]]:
    """The dataset's name and the page's command (on 2 cores, FAST merged after its config)."""
    text = page_blocks("yaml")[0]
    config_name, command = re.match(r"# (\S+\.yaml): (snakemake .*)\n", text).groups()
    (workdir / config_name).write_text(text)
    (name,) = yaml.safe_load(text)["datasets"]
    (workdir / "fast.yaml").write_text(
        yaml.safe_dump({**FAST, "pretrain": {**FAST["pretrain"], "dataset": name}})
    )
    argv = shlex.split(command)[1:]
    argv[argv.index("--cores") + 1] = "2"
    argv.insert(argv.index("--configfile") + 2, "fast.yaml")
    return name, argv


@pytest.mark.slow
def test_the_pages_benchmark_is_evaluated_and_tabled_by_config_alone(tmp_path: Path):
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not on PATH")
    workdir = clone(tmp_path / "clone")
    videos, _, _ = page_files(workdir / "my_benchmark")
    make_videos(videos)
    name, argv = page_command(workdir)
    target = f"results/tables/{NAME}.md"
    dry = snakemake(workdir, target, "-n", *argv)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    for rule in ("manifest", "extract_media", "extract_text", "pretrain", "evaluate_retrieval"):
        assert f"rule {rule}:" in dry.stdout, rule
    proc = snakemake(workdir, target, *argv, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(
        (workdir / f"results/evaluate/retrieval/zeroshot/main/{name}/at_once.json").read_text()
    )
    assert (result["clips"], result["split"], result["chance"]["R1"]) == (4, "test", 25.0)
    md = (workdir / target).read_text()
    assert f"| ★ {name}: main, zero-shot, at_once, t→va | - / " in md, md
    cells = read_csv(workdir / f"results/tables/{NAME}.csv")
    assert [c["metric"] for c in cells] == ["R1", "R5", "R10", "MedR"]
    assert all(c["dataset"] == name and c["ours"] and c["chance"] for c in cells), cells
