"""word2vec converted once (eao.backbones.word2vec): memory-mapped loading, the same features
and provenance as the original file, one-line errors, and no half-written folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from entry_files import write_word2vec

from eao.backbones import word2vec
from eao.backbones.weights import sha256_file
from eao.backbones.word2vec import Word2Vec
from eao.errors import run
from eao.features import text
from eao.io.parquet import CAPTIONS, MANIFEST, table_from_rows, write_table

WORDS = ["Tomato", "tomato", "Don't", "cut", "the", "eggs"]
PROG = "python -m eao.backbones.word2vec"


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, np.ndarray]]:
    """A GoogleNews-format binary of a few 8-d words, and its vectors."""
    path = tmp_path_factory.mktemp("w2v") / "tiny-vectors.bin"
    return str(path), write_word2vec(path, WORDS)


@pytest.fixture(scope="module")
def converted(original, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("converted") / "tiny-vectors.kv"
    assert run(word2vec.main, ["--source", original[0], "--out", str(out)], PROG) == 0
    return out


def test_converted_vectors_are_memory_mapped_and_equal(original, converted):
    path, vecs = original
    assert word2vec.is_converted(converted)
    record = json.loads((converted / word2vec.SOURCE).read_text())
    assert record["weights"] == path and record["sha256"] == sha256_file(path)
    w2v = Word2Vec.load(str(converted))
    assert isinstance(w2v._kv.vectors, np.memmap) and w2v.dim == 8
    for word, vec in vecs.items():
        np.testing.assert_array_equal(w2v._kv[word], vec)
    assert w2v.provenance == Word2Vec.load(path).provenance  # the original's name and sha256
    sentence = "Don't cut the TOMATO, cut the Tomato eggs"
    (tokens, feats, oov), want = w2v.encode(sentence), Word2Vec.load(path).encode(sentence)
    assert (tokens, oov) == (want[0], want[2])
    np.testing.assert_array_equal(feats, want[1])


def _captions(root: Path) -> tuple[str, str]:
    rows = [
        {
            "video_id": v,
            "path": f"/{v}.mp4",
            "dataset": "t",
            "split": "test",
            "shard": 0,
            "duration_s": 9.0,
            "has_video": True,
            "has_audio": True,
        }
        for v in ("v0", "v1")
    ]
    caps = [
        {"video_id": v, "segment": j, "start_s": 2.0 * j, "end_s": 2.0 * j + 1, "text": t}
        for v in ("v0", "v1")
        for j, t in enumerate(["Cut the tomato", "the eggs, Don't!", "nothing known"])
    ]
    probed, captions = root / "probed.parquet", root / "captions.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(probed), {"table": "manifest"})
    write_table(table_from_rows(caps, CAPTIONS), str(captions), {"table": "captions"})
    return str(probed), str(captions)


def test_shards_from_the_converted_folder_equal_those_from_the_file(original, converted, tmp_path):
    probed, captions = _captions(tmp_path)
    shards = {}
    for name, weights in (("bin", original[0]), ("kv", str(converted))):
        out = tmp_path / f"{name}.parquet"
        argv = [
            "--encoder",
            "word2vec",
            "--weights",
            weights,
            "--probed",
            probed,
            "--captions",
            captions,
            "--device",
            "cpu",
            "--out",
            str(out),
            "--out-failures",
            str(tmp_path / f"{name}-failures.parquet"),
        ]
        assert run(text.main, argv, "python -m eao.features.text") == 0
        shards[name] = pq.read_table(out)
    assert shards["bin"].equals(shards["kv"])  # features, tokens, segments
    meta = {n: t.schema.metadata for n, t in shards.items()}
    assert meta["bin"] == meta["kv"]  # provenance: the original file's name and sha256
    assert meta["kv"][b"weights"] == original[0].encode()
    assert meta["kv"][b"weights_sha256"] == sha256_file(original[0]).encode()


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "missing", "folder"])
def test_a_bad_word2vec_file_is_one_line_and_status_2(kind, original, tmp_path, capfd):
    bad = tmp_path / "bad.bin"
    data = Path(original[0]).read_bytes()
    if kind == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        bad.write_bytes(b"this is not word2vec\n" + bytes(range(256)))
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "folder":
        bad.mkdir()
    out = tmp_path / "out" / "w.kv"
    assert run(word2vec.main, ["--source", str(bad), "--out", str(out)], PROG) == 2
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"{PROG}: error: {bad}"), err
    assert not out.exists()
    assert (list(out.parent.iterdir()) if out.parent.exists() else []) == []  # no temporary


def test_the_module_entry_point_uses_the_wrapper(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"3 8\nnot vectors")
    out = tmp_path / "w.kv"
    cmd = [sys.executable, "-m", "eao.backbones.word2vec", "--source", str(bad), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{PROG}: error: {bad}: ") and "Traceback" not in proc.stderr
    assert not out.exists()


def test_an_interrupted_conversion_leaves_nothing_at_the_target(original, tmp_path, monkeypatch):
    from gensim.models import KeyedVectors

    def killed(self, *args, **kwargs):  # the vectors are half written when the job is killed
        Path(args[0] + ".vectors.npy").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(KeyedVectors, "save", killed)
    out = tmp_path / "w.kv"
    with pytest.raises(KeyboardInterrupt):
        word2vec.convert(original[0], out)
    assert list(tmp_path.iterdir()) == []  # no target, no temporary folder


def test_a_rerun_replaces_the_folder_whole(original, converted, tmp_path):
    out = tmp_path / "w.kv"
    out.mkdir()
    (out / "stale").write_text("from an older conversion")
    word2vec.convert(original[0], out)
    assert word2vec.is_converted(out) and not (out / "stale").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.kv"]


def test_an_incomplete_folder_is_refused(converted, tmp_path):
    partial = tmp_path / "partial.kv"
    partial.mkdir()
    (partial / word2vec.VECTORS).write_bytes((converted / word2vec.VECTORS).read_bytes())
    with pytest.raises(ValueError, match="not a converted word2vec folder"):
        Word2Vec.load(str(partial))
