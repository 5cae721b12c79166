"""One error convention for every entry point (issue #15): each `eao` subcommand and each
`python -m eao...` a rule runs answers a bad input file with exit status 2, one line on stderr
naming the file, no traceback, and no output left behind; EAO_DEBUG=1 / `eao --debug` show the
traceback.

Every entry point is fed 8 kinds of bad file at the argument that takes it: missing, empty,
truncated (the first half of a real file of the right kind), plain text, JSON, a valid file of
another kind (another Parquet table, another checkpoint kind, another JSON), a file of another
format (a checkpoint where a table is expected and the other way round) and a folder. The bulk
runs in-process through `eao.errors.run`, the wrapper every `__main__` calls; a few real
subprocesses prove the `__main__` paths and the `eao` console script use it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
import torch
from entry_files import CFG, valid_files

from eao import checkpoints, cli, doctor, info, own_videos
from eao.backbones import word2vec
from eao.demo import __main__ as demo
from eao.errors import BadInput, reading, run
from eao.evaluate import localize, retrieval, search
from eao.features import extract, imported, text
from eao.ingest import failures, manifest, probe
from eao.io.parquet import MANIFEST, table_from_rows, write_table
from eao.report import __main__ as report
from eao.serve import __main__ as serve_main
from eao.tables import __main__ as tables
from eao.train import finetune, loop

KINDS = ("missing", "empty", "truncated", "text", "json", "wrong_kind", "other_format", "folder")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return valid_files(tmp_path_factory.mktemp("valid"))


@dataclass(frozen=True)
class Entry:
    prog: str
    main: Callable[[list[str] | None], int]
    argv: Callable[[dict[str, Path], str, Path], list[str]]  # (files, bad file, out) -> argv
    good: str  # the kind of file the argument takes (truncated: its first half)
    wrong: str  # a valid file of another kind
    other: str  # a file of another format
    outputs: tuple[str, ...]  # under out: what a failed run must not leave
    kinds: tuple[str, ...] = KINDS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _out(out: Path, name: str) -> str:
    return str(out / name)


ENTRIES = {
    "demo-world": Entry(
        "eao demo-world",
        demo.main,
        lambda f, bad, out: ["--config", bad, "--out", _out(out, "w")],
        "config",
        "config_no_demo",
        "manifest",
        ("w",),
    ),
    "manifest --videos": Entry(
        "eao manifest",
        manifest.main,
        lambda f, bad, out: [
            "--dataset",
            "t",
            "--videos",
            bad,
            "--root",
            str(f["manifest"].parent),
            "--shard-size",
            "2",
            "--out-manifest",
            _out(out, "m.parquet"),
            "--out-captions",
            _out(out, "c.parquet"),
            "--out-failures",
            _out(out, "f.parquet"),
        ],
        # a CSV cut in half is a shorter list of videos: the probe reports the cut path
        "videos_csv",
        "other_csv",
        "manifest",
        ("m.parquet", "c.parquet", "f.parquet"),
        tuple(k for k in KINDS if k != "truncated"),
    ),
    "manifest --captions": Entry(
        "eao manifest",
        manifest.main,
        lambda f, bad, out: [
            "--dataset",
            "t",
            "--videos",
            str(f["videos_csv"]),
            "--root",
            str(f["manifest"].parent),
            "--captions",
            bad,
            "--shard-size",
            "2",
            "--out-manifest",
            _out(out, "m.parquet"),
            "--out-captions",
            _out(out, "c.parquet"),
            "--out-failures",
            _out(out, "f.parquet"),
        ],
        "caption_json",
        "result_json",
        "manifest",
        ("m.parquet", "c.parquet", "f.parquet"),
        ("truncated",),
    ),  # the others as for --videos; another JSON: videos without captions
    "probe": Entry(
        "eao probe",
        probe.main,
        lambda f, bad, out: [
            "--manifest",
            bad,
            "--shard",
            "0",
            "--out",
            _out(out, "p.parquet"),
            "--out-failures",
            _out(out, "f.parquet"),
        ],
        "manifest",
        "captions",
        "model",
        ("p.parquet", "f.parquet"),
    ),
    "failures": Entry(
        "eao failures",
        failures.main,
        lambda f, bad, out: [
            "--out",
            _out(out, "all.parquet"),
            "--out-tsv",
            _out(out, "all.tsv"),
            str(f["failures"]),
            bad,
        ],
        "failures",
        "manifest",
        "model",
        ("all.parquet", "all.tsv"),
    ),
    "features.extract": Entry(
        "python -m eao.features.extract",
        extract.main,
        lambda f, bad, out: [
            "--backbone",
            "logmel",
            "--probed",
            bad,
            "--device",
            "cpu",
            "--out",
            _out(out, "s.parquet"),
            "--out-failures",
            _out(out, "f.parquet"),
        ],
        "manifest",
        "captions",
        "model",
        ("s.parquet", "f.parquet"),
    ),
    "features.text": Entry(
        "python -m eao.features.text",
        text.main,
        lambda f, bad, out: [
            "--encoder",
            "word2vec",
            "--probed",
            str(f["manifest"]),
            "--captions",
            bad,
            "--device",
            "cpu",
            "--out",
            _out(out, "t.parquet"),
            "--out-failures",
            _out(out, "f.parquet"),
        ],
        "captions",
        "manifest",
        "model",
        ("t.parquet", "f.parquet"),
    ),
    "word2vec": Entry(
        "python -m eao.backbones.word2vec",
        word2vec.main,
        lambda f, bad, out: ["--source", bad, "--out", _out(out, "w.kv")],
        "word2vec",
        "caption_json",
        "model",
        ("w.kv",),
    ),
    "train": Entry(
        "eao train",
        loop.main,
        lambda f, bad, out: [
            "--video-2d",
            bad,
            "--text",
            str(f["shard_text"]),
            "--device",
            "cpu",
            "--out-dir",
            _out(out, "run"),
        ],
        "shard_2d",
        "failures",
        "model",
        ("run",),
    ),
    "finetune": Entry(
        "eao finetune",
        finetune.main,
        lambda f, bad, out: [
            "--init",
            bad,
            "--clips",
            "segments",
            "--manifest",
            str(f["manifest"]),
            "--video-2d",
            str(f["shard_2d"]),
            "--text",
            str(f["shard_text"]),
            "--device",
            "cpu",
            "--out-dir",
            _out(out, "ft"),
        ],
        "model",
        "weights_dict",
        "manifest",
        ("ft",),
    ),
    "import-checkpoint": Entry(
        "eao import-checkpoint",
        checkpoints.main,
        lambda f, bad, out: [bad, _out(out, "eao.pt")],
        "official",
        "model",
        "manifest",
        ("eao.pt",),
    ),
    "import-features": Entry(
        "eao import-features",
        imported.main,
        lambda f, bad, out: [
            "--dataset",
            "youcook2",
            "--format",
            "eao-pickle",
            "--pickle",
            f"resnet={bad}",
            "--split",
            "validation",
            "--results",
            str(out),
        ],
        "released_pickle",
        "weights_dict",
        "manifest",
        ("manifest", "probe", "features"),
    ),
    "retrieval": Entry(
        "eao retrieval",
        retrieval.main,
        lambda f, bad, out: [
            "--model",
            bad,
            "--manifest",
            str(f["manifest"]),
            "--clips",
            "segments",
            "--text",
            str(f["shard_text"]),
            "--video-tokens",
            "4",
            "--audio-frames",
            "64",
            "--device",
            "cpu",
            "--out",
            _out(out, "r.json"),
        ],
        "model",
        "official",
        "manifest",
        ("r.json",),
    ),
    "localize": Entry(
        "eao localize",
        localize.main,
        lambda f, bad, out: [
            "--benchmark",
            "crosstask",
            "--model",
            bad,
            "--annotations",
            str(f["other_csv"]),
            "--text",
            str(f["shard_text"]),
            "--device",
            "cpu",
            "--out",
            _out(out, "l.json"),
        ],
        "model",
        "weights_dict",
        "manifest",
        ("l.json",),
    ),
    "index-shards": Entry(
        "eao index-shards",
        search.index_main,
        lambda f, bad, out: [
            "--model",
            bad,
            "--manifest",
            str(f["manifest"]),
            "--video-2d",
            str(f["shard_2d"]),
            "--text",
            str(f["shard_text"]),
            "--device",
            "cpu",
            "--out",
            _out(out, "i.parquet"),
        ],
        "model",
        "weights_dict",
        "manifest",
        ("i.parquet",),
    ),
    "search": Entry(
        "eao search",
        search.search_main,
        lambda f, bad, out: [bad, "cut the onion"],
        "index",
        "manifest",
        "model",
        (),
    ),
    "serve": Entry(
        "eao serve",
        serve_main.main,
        lambda f, bad, out: [bad, "--port", str(free_port())],
        "index",
        "manifest",
        "model",
        (),
    ),
    "tables": Entry(
        "eao tables",
        tables.main,
        lambda f, bad, out: [
            "--config-json",
            f"@{bad}",
            "--evaluations",
            "--out",
            _out(out, "tables"),
        ],
        "tables_config",
        "result_json",
        "manifest",
        ("tables",),
    ),
    "report": Entry(
        "eao report",
        report.main,
        lambda f, bad, out: [
            "--metrics",
            str(f["metrics"]),
            "--retrieval",
            bad,
            "--out-dir",
            _out(out, "figures"),
        ],
        "result_json",
        "localization_json",
        "manifest",
        ("figures",),
    ),
    "info": Entry(
        "eao info", info.main, lambda f, bad, out: [bad], "manifest", "videos_csv", "model", ()
    ),  # any table is fine: another kind is a CSV
    "doctor": Entry(
        "eao doctor",
        doctor.main,
        lambda f, bad, out: ["--config", bad],
        "config",
        "other_csv",
        "manifest",
        (),
    ),
    "index": Entry(
        "eao index",
        own_videos.main,
        lambda f, bad, out: [
            str(f["folder"]),
            "--directory",
            str(out),
            "--configfile",
            bad,
            "--name",
            "mine",
        ],
        "config",
        "other_csv",
        "manifest",
        ("results",),
    ),
}
CASES = [(name, kind) for name, entry in ENTRIES.items() for kind in entry.kinds]


def bad_file(kind: str, entry: Entry, files: dict[str, Path], folder: Path) -> Path:
    """A file of `kind` standing where `entry` expects a file like files[entry.good]."""
    good = files[entry.good]
    path = folder / f"{kind}{good.suffix}"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("this is not the file you are looking for\n")
    elif kind == "json":
        path.write_text("[1, 2, 3]\n")
    elif kind in ("wrong_kind", "other_format"):
        shutil.copyfile(files[entry.wrong if kind == "wrong_kind" else entry.other], path)
    return path  # "missing": never made


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_a_bad_file_is_one_line_and_status_2(name, kind, files, tmp_path, capfd):
    entry = ENTRIES[name]
    bad = bad_file(kind, entry, files, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    rc = run(entry.main, entry.argv(files, str(bad), out), entry.prog)
    captured = capfd.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert rc == 2, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"{entry.prog}: error: ") and str(bad) in lines[0], lines[0]
    assert "Traceback" not in captured.out + captured.err
    assert [p.name for p in out.iterdir() if p.name in entry.outputs] == []
    if name == "import-checkpoint":  # only a file holding pickled objects is told to trust them
        assert "--trust-pickle" not in lines[0]


def test_every_entry_point_is_fed_eight_kinds_of_bad_file():
    kinds: dict[str, set[str]] = {}
    for entry in ENTRIES.values():
        kinds.setdefault(entry.prog, set()).update(entry.kinds)
    assert all(len(k) >= 8 for k in kinds.values()), kinds
    # every eao command's function is fed them (as `eao <command>` or as `python -m eao...`)
    assert {cli.entry_point(c) for c in cli.COMMANDS} <= {e.main for e in ENTRIES.values()}


def test_messages_say_what_the_file_is(files, tmp_path, capfd):
    """Where the file is opened and checked, the message says what it is instead."""
    cases = [
        (ENTRIES["probe"], files["captions"], "not a manifest table (table=captions)"),
        (ENTRIES["train"], files["failures"], "not a 2d table (table=failures)"),
        (ENTRIES["retrieval"], files["official"], "an official Everything-at-Once checkpoint"),
        (ENTRIES["import-checkpoint"], files["model"], "already an eao checkpoint"),
        (ENTRIES["finetune"], files["weights_dict"], "not an eao model checkpoint"),
        (ENTRIES["import-checkpoint"], files["manifest"], "not a PyTorch checkpoint"),
    ]
    for entry, path, needle in cases:
        assert run(entry.main, entry.argv(files, str(path), tmp_path), entry.prog) == 2
        assert f"{path}: {needle}" in capfd.readouterr().err, (entry.prog, needle)


def test_resuming_from_a_model_without_training_state_is_refused(files, tmp_path, capfd):
    argv = [
        "--video-2d",
        str(files["shard_2d"]),
        "--text",
        str(files["shard_text"]),
        "--model-config",
        json.dumps({k: v for k, v in asdict(CFG).items() if k not in ("video_dim", "text_dim")}),
        "--train-config",
        '{"batch_videos": 2, "n_clips": 1, "workers": 0}',
        "--resume",
        str(files["model"]),
        "--device",
        "cpu",
        "--out-dir",
        str(tmp_path / "r"),
    ]
    assert run(loop.main, argv, "eao train") == 2
    err = capfd.readouterr().err
    assert f"{files['model']}: not a training checkpoint of eao train (no " in err
    assert not (tmp_path / "r").exists()


def test_bad_arguments_are_one_line_too(files, capfd):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["probe", "--manifest", str(files["manifest"]), "--bogus"])
    assert exit_.value.code == 2
    err = capfd.readouterr().err
    assert err.startswith("eao probe: error: ") and err.count("\n") == 1, err
    with pytest.raises(SystemExit):
        loop.main(["--train-config", "[1]", "--out-dir", "x"])
    err = capfd.readouterr().err
    assert err == "eao train: error: argument --train-config: not a JSON object but a list\n"
    assert run(loop.main, ["--train-config", '{"epoch": 3}', "--out-dir", "x"], "eao train") == 2
    assert capfd.readouterr().err == "eao train: error: unknown TrainConfig keys: epoch\n"
    assert cli.main(["nope"]) == 2
    assert capfd.readouterr().err == "eao: error: unknown command 'nope'\n"


def test_debug_shows_the_traceback(files, monkeypatch, capfd):
    argv = [
        "--manifest",
        str(files["captions"]),
        "--shard",
        "0",
        "--out",
        "x",
        "--out-failures",
        "y",
    ]
    assert cli.main(["--debug", "probe", *argv]) == 2
    err = capfd.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("eao probe: error: ")
    monkeypatch.setenv("EAO_DEBUG", "1")
    assert run(probe.main, argv, "eao probe") == 2
    assert "Traceback" in capfd.readouterr().err
    monkeypatch.setenv("EAO_DEBUG", "0")
    assert run(probe.main, argv, "eao probe") == 2
    assert "Traceback" not in capfd.readouterr().err


def test_a_bug_is_not_bad_input():
    def buggy(argv):
        return {}["no such key"]  # a KeyError outside any input file: a bug, shown as such

    with pytest.raises(KeyError):
        run(buggy, [], "eao x")

    def library_misuse(argv):  # a library's error outside a `reading` block: a bug too
        import pyarrow as pa

        return pa.Table.from_pylist([{"a": 1}, {"a": "x"}])

    with pytest.raises(pa_error()):
        run(library_misuse, [], "eao x")
    with pytest.raises(BadInput, match=r"^f\.json: has no 'k' entry$"), reading("f.json"):
        {}["k"]


def pa_error() -> type[Exception]:
    import pyarrow as pa

    return pa.ArrowException


def test_trust_pickle_is_suggested_only_for_pickled_objects(files, tmp_path, capfd):
    with_object = tmp_path / "object.pth"
    torch.save({"state_dict": {}, "config": Path("/x")}, with_object)
    assert run(checkpoints.main, [str(with_object), str(tmp_path / "o.pt")], "x") == 2
    err = capfd.readouterr().err
    assert "holds pickled objects" in err and "--trust-pickle" in err
    assert "PosixPath" in err and err.count("\n") == 1


# -- the __main__ paths and the console script, as the workflow's rules run them ---------------
def _subprocess(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def _assert_one_line(proc: subprocess.CompletedProcess, prog: str, path: Path) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: {path}: "), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_module_entry_points_use_the_wrapper(files, tmp_path):
    text_file = tmp_path / "notes.pth"
    text_file.write_text("not a checkpoint\n")
    out = tmp_path / "eao.pt"
    proc = _subprocess(sys.executable, "-m", "eao.checkpoints", str(text_file), str(out))
    _assert_one_line(proc, "eao import-checkpoint", text_file)
    assert not out.exists()
    proc = _subprocess(
        sys.executable,
        "-m",
        "eao.features.extract",
        "--backbone",
        "logmel",
        "--probed",
        str(files["captions"]),
        "--out",
        str(tmp_path / "s.parquet"),
        "--out-failures",
        str(tmp_path / "f.parquet"),
    )
    _assert_one_line(proc, "python -m eao.features.extract", files["captions"])
    assert "not a manifest table (table=captions)" in proc.stderr
    debug = _subprocess(
        sys.executable, "-m", "eao.checkpoints", str(text_file), str(out), env={"EAO_DEBUG": "1"}
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith(f"eao import-checkpoint: error: {text_file}")


def test_the_eao_console_script_uses_the_wrapper(files, tmp_path):
    eao = shutil.which("eao", path=str(Path(sys.executable).parent)) or shutil.which("eao")
    if eao is None:
        pytest.skip("the eao console script is not installed")
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    proc = _subprocess(
        eao,
        "probe",
        "--manifest",
        str(empty),
        "--shard",
        "0",
        "--out",
        str(tmp_path / "p.parquet"),
        "--out-failures",
        str(tmp_path / "f.parquet"),
    )
    _assert_one_line(proc, "eao probe", empty)
    proc = _subprocess(eao, "probe", "--shard", "x")
    assert proc.returncode == 2 and proc.stderr.startswith("eao probe: error: ")
    assert proc.stderr.count("\n") == 1, proc.stderr


def test_a_shard_without_usable_videos_still_has_its_captions_checked(files, tmp_path):
    rows = [{"video_id": "v0", "path": "/v0.mp4", "shard": 0, "error": "empty file"}]
    probed = tmp_path / "probed.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(probed), {"table": "manifest"})
    assert text.load_segments(str(probed), str(files["captions"])) == []
    with pytest.raises(BadInput, match="not a captions table"):
        text.load_segments(str(probed), str(files["manifest"]))
