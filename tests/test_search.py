"""eao search on hand-made indexes: ranking, and clear errors for what is not a usable index."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from eao.errors import run
from eao.evaluate import search as search_module
from eao.evaluate.search import NotAnIndex, read_index, search, search_main
from eao.io.parquet import write_table


def index_table(embeddings: np.ndarray) -> pa.Table:
    n, dim = embeddings.shape
    return pa.Table.from_pydict(
        {
            "video_id": [f"v{i}" for i in range(n)],
            "path": [f"/v{i}.mp4" for i in range(n)],
            "start_s": [0.0] * n,
            "end_s": [8.0] * n,
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(embeddings.reshape(-1).astype(np.float32)), dim
            ),
        }
    )


def test_search_ranks_by_cosine():
    emb = np.eye(4, dtype=np.float32)
    query = np.array([0.1, 0.9, 0.0, 0.4], np.float32)
    hits = search(index_table(emb), query, 3)
    assert [h["video_id"] for h in hits] == ["v1", "v3", "v0"]
    assert hits[0]["score"] == pytest.approx(0.9)


def test_own_window_hits_counts_captions_whose_window_ranks_in_the_top_k():
    table = index_table(np.eye(4, dtype=np.float32))  # v0..v3, one 0-8 s window each
    queries = np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 0, 1], [np.nan] * 4], np.float32)
    captions = [
        {"video_id": "v0", "start_s": 1.0, "end_s": 3.0, "text": "a"},  # v0 ranks 1st
        {"video_id": "v1", "start_s": 1.0, "end_s": 3.0, "text": "b"},  # v1 ranks 2nd
        {"video_id": "v3", "start_s": 9.0, "end_s": 12.0, "text": "c"},  # no own window
        {"video_id": "v2", "start_s": 1.0, "end_s": 3.0, "text": "?!"},
    ]  # no known word
    hits, n, chance = search_module.own_window_hits(table, captions, queries, k=1)
    assert (hits, n) == (1, 3)
    assert chance == pytest.approx((1 / 4 + 1 / 4 + 0) / 3)  # one own window of 4, top 1
    assert search_module.own_window_hits(table, captions, queries, k=2)[0] == 2
    # an index of fewer windows than k: every window is in the top k
    hits, n, chance = search_module.own_window_hits(table, captions, queries, k=10)
    assert (hits, n) == (2, 3) and chance == pytest.approx(2 / 3)


def test_read_index_errors(tmp_path):
    with pytest.raises(NotAnIndex, match="no such index file"):
        read_index(str(tmp_path / "nope.parquet"))
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    with pytest.raises(NotAnIndex, match=r"clip\.mp4: not an eao index \(not a Parquet file"):
        read_index(str(video))
    other = tmp_path / "other.parquet"
    write_table(pa.table({"video_id": ["a"]}), str(other), {"table": "manifest"})
    with pytest.raises(NotAnIndex, match="a Parquet table of 'manifest'"):
        read_index(str(other))
    empty = tmp_path / "empty.parquet"
    write_table(index_table(np.zeros((0, 4), np.float32)), str(empty), {"table": "index"})
    with pytest.raises(NotAnIndex, match="the index is empty"):
        read_index(str(empty))


def test_search_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert run(search_main, [str(tmp_path / "nope.parquet"), "eggs"], "eao search") == 2
    assert capsys.readouterr().err.startswith("eao search: error: ")
