"""`eao index FOLDER`: the folder becomes a dataset of the workflow (the run itself is in
test_workflow.py; these check the files it writes and the errors it gives)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
import yaml

from eao import own_videos
from eao.errors import run


def touch(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "My Kitchen!"
    for name in [
        "b.mp4",
        "a.MKV",
        "day 2/eggs.webm",
        "notes.txt",
        ".hidden.mp4",
        ".cache/c.mp4",
        "eggs.mp4",
    ]:
        touch(root / name)
    return root


def args_for(tmp_path: Path, folder: Path, **kw) -> argparse.Namespace:
    work = tmp_path / "work"
    touch(work / "Snakefile")
    touch(work / "config.yaml", yaml.safe_dump({"datasets": {"howto": {}}}))
    touch(work / own_videos.MODEL)
    base = dict(
        folder=folder,
        name=None,
        directory=work,
        configfile=None,
        cores=2,
        snakefile=work / "Snakefile",
        allow_training=False,
        snakemake=[],
    )
    return argparse.Namespace(**{**base, **kw})


def test_finds_video_files_recursively_sorted_without_hidden_ones(folder):
    found = [p.as_posix() for p in own_videos.find_videos(folder)]
    assert found == ["a.MKV", "b.mp4", "day 2/eggs.webm", "eggs.mp4"]


def test_ids_are_paths_without_suffix_unless_two_files_share_one():
    ids = own_videos.video_ids([Path("a.mp4"), Path("a.mkv"), Path("day 2/b.mp4")])
    assert ids == ["a.mp4", "a.mkv", "day 2/b"]


def test_a_rerun_keeps_the_earlier_order_and_appends_new_videos(tmp_path):
    csv_path = tmp_path / "videos.csv"
    csv_path.write_text(own_videos.videos_csv([Path("b.mp4"), Path("d.mp4"), Path("c.mp4")]))
    now = [Path("a.mp4"), Path("b.mp4"), Path("c.mp4"), Path("e.mp4")]  # d removed; a, e new
    expected = [Path(p) for p in ["b.mp4", "c.mp4", "a.mp4", "e.mp4"]]
    assert own_videos.keep_order(now, own_videos.read_earlier(csv_path)) == expected


def test_an_earlier_video_keeps_its_id_when_a_namesake_arrives(tmp_path):
    earlier = {Path("eggs.mp4"): "eggs"}
    ids = own_videos.video_ids([Path("eggs.mp4"), Path("eggs.mkv")], earlier)
    assert ids == ["eggs", "eggs.mkv"]
    with pytest.raises(ValueError, match="share the id 'a.mp4'"):
        # b.mp4 was indexed as "a.mp4" (by hand); a new a.mp4.mkv would take the same id
        own_videos.video_ids([Path("b.mp4"), Path("a.mp4.mkv")], {Path("b.mp4"): "a.mp4"})


def test_prepare_writes_the_csv_and_a_config_naming_the_folder(tmp_path, folder):
    args = args_for(tmp_path, folder)
    name, base, overlay = own_videos.prepare(args)
    assert name == "My_Kitchen" and base == (args.directory / "config.yaml").resolve()
    cfg = yaml.safe_load(overlay.read_text())
    assert cfg["index"] == {"datasets": ["My_Kitchen"]}
    dataset = cfg["datasets"]["My_Kitchen"]
    assert dataset["root"] == str(folder.resolve())
    rows = Path(dataset["videos"]).read_text().splitlines()
    assert rows == [
        "video_id,path",
        "a,a.MKV",
        "b,b.mp4",
        "day 2/eggs,day 2/eggs.webm",
        "eggs,eggs.mp4",
    ]
    # unchanged files keep their mtime: snakemake then has nothing to redo
    os.utime(overlay, (1, 1))
    os.utime(dataset["videos"], (1, 1))
    own_videos.prepare(args)
    assert overlay.stat().st_mtime == 1 and Path(dataset["videos"]).stat().st_mtime == 1


def test_the_command_targets_the_index_and_never_retrains_unless_asked(tmp_path, folder):
    args = args_for(tmp_path, folder, snakemake=["--profile", "p"])
    cmd = own_videos.snakemake_command(args, Path("base.yaml"), Path("own.yaml"), "mine")
    assert cmd[cmd.index("--configfile") + 1 : cmd.index("--configfile") + 3] == [
        "base.yaml",
        "own.yaml",
    ]
    assert "results/index/mine.parquet" in cmd and "results/failures/mine.tsv" in cmd
    assert cmd[-4:] == ["--rerun-triggers", "mtime", "--profile", "p"]
    args.allow_training = True
    assert "--rerun-triggers" not in own_videos.snakemake_command(args, Path("b"), Path("o"), "m")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: setattr(a, "folder", a.folder / "b.mp4"), "not a folder"),
        (lambda a: setattr(a, "folder", a.directory), "no video files in it"),
        (lambda a: setattr(a, "name", "howto"), "already has a dataset 'howto'"),
        (lambda a: setattr(a, "name", "my videos"), "letters, digits and underscores"),
        (lambda a: (a.directory / own_videos.MODEL).unlink(), "--allow-training"),
        (lambda a: (a.directory / "Snakefile").unlink(), "no Snakefile"),
        (lambda a: setattr(a, "configfile", a.directory / "nope.yaml"), "no config"),
    ],
)
def test_clear_errors_before_any_work(tmp_path, folder, change, message):
    args = args_for(tmp_path, folder)
    change(args)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        own_videos.prepare(args)
    assert not (args.directory / "results" / "own_videos").exists()


def test_main_prints_the_error_and_exits_2(tmp_path, capsys):
    assert run(own_videos.main, [str(tmp_path / "missing")], "eao index") == 2
    assert capsys.readouterr().err == f"eao index: error: {tmp_path / 'missing'}: not a folder\n"


def test_options_after_the_folder_and_snakemake_arguments_after_dashes(
    tmp_path, folder, monkeypatch, capsys
):
    work = args_for(tmp_path, folder).directory
    ran = []
    done = argparse.Namespace(returncode=0)
    monkeypatch.setattr(own_videos.subprocess, "run", lambda cmd: ran.append(cmd) or done)
    argv = [
        str(folder),
        "--cores",
        "3",
        "--directory",
        str(work),
        "--snakefile",
        str(work / "Snakefile"),
        "--",
        "-n",
        "--profile",
        "p",
    ]
    assert own_videos.main(argv) == 0
    cmd = ran[0]
    assert cmd[cmd.index("--cores") + 1] == "3" and cmd[-3:] == ["-n", "--profile", "p"]
    # a dry run builds nothing: the summary says so instead of failing on the missing index
    assert "not built by this run" in capsys.readouterr().out


def test_a_name_taken_in_the_snakefiles_own_config_is_refused_under_configfile(tmp_path, folder):
    args = args_for(tmp_path, folder, name="howto")  # howto is in DIRECTORY/config.yaml
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"datasets": None}))
    args.configfile = mine
    with pytest.raises(ValueError, match="config.yaml already has a dataset 'howto'"):
        own_videos.prepare(args)
    args.name = "kitchen"
    assert own_videos.prepare(args)[0] == "kitchen"


def test_a_name_of_the_demos_datasets_is_refused_while_the_demo_is_on(tmp_path, folder):
    """The demo's datasets are not in config.yaml (eao.workflow.demo_config): a folder under
    one of their names would replace that demo dataset."""
    args = args_for(tmp_path, folder, name="youcook2")
    (args.directory / "config.yaml").write_text(yaml.safe_dump({"demo": {"enabled": True}}))
    with pytest.raises(ValueError, match="'youcook2' is a dataset of the demo world"):
        own_videos.prepare(args)
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"demo": {"enabled": False}}))
    args.configfile = mine  # merged after config.yaml: the demo is off
    assert own_videos.prepare(args)[0] == "youcook2"
