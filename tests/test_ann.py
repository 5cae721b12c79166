"""The search folder beside an index (eao.evaluate.ann): exact below the threshold, and the
approximate index ranking as exact search does when it visits every list."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from eao.errors import BadInput
from eao.evaluate import ann
from eao.evaluate.search import SearchIndex, search, write_search
from eao.io.parquet import write_table

REPO_SCHEMA = "workflow/schemas/config.schema.yaml"


def vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def index_file(tmp_path, emb: np.ndarray, settings: ann.AnnSettings) -> str:
    n, dim = emb.shape
    table = pa.table(
        {
            "video_id": [f"v{i // 10}" for i in range(n)],
            "path": [f"v{i // 10}.mp4" for i in range(n)],
            "start_s": np.arange(n, dtype=np.float64),
            "end_s": np.arange(n, dtype=np.float64) + 8,
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), dim),
        }
    )
    path = str(tmp_path / "x.parquet")
    write_table(table, path, {"table": "index", "model": "m.pt"})
    write_search(table, tmp_path / "x.ann", settings)
    return path


def test_below_the_threshold_search_is_exact_and_unchanged(tmp_path):
    emb = vectors(300)
    path = index_file(tmp_path, emb, ann.AnnSettings(min_windows=301))
    assert json.loads((tmp_path / "x.ann" / "meta.json").read_text())["kind"] == "exact"
    assert sorted(p.name for p in (tmp_path / "x.ann").iterdir()) == ["meta.json"]
    index = SearchIndex(path)
    table = pq.read_table(path)
    for q in vectors(5, seed=1):
        got = index.search(q, 7)
        assert [{k: v for k, v in h.items() if k != "row"} for h in got] == search(table, q, 7)
        assert [h["row"] for h in got] == list(np.argsort(-(emb @ q), kind="stable")[:7])


def test_approximate_index_visiting_every_list_ranks_as_exact(tmp_path):
    emb = vectors(2000)
    settings = ann.AnnSettings(min_windows=0, pca_dim=32, nlist=8, nprobe=8, rerank=50)
    path = index_file(tmp_path, emb, settings)
    index = SearchIndex(path)
    assert index.search_kind == "ivf"
    assert "embedding" not in index.windows.column_names  # the full matrix is never loaded
    for q in vectors(10, seed=2):
        got = index.search(q, 10)
        want = np.argsort(-(emb @ q), kind="stable")[:10]
        assert [h["row"] for h in got] == list(want)
        assert [h["score"] for h in got] == pytest.approx(list((emb @ q)[want]), abs=2e-3)


def test_approximate_index_finds_most_neighbours_with_few_lists(tmp_path):
    # topics, as a collection's windows have (isotropic noise has no neighbours to find)
    emb = vectors(20, dim=64, seed=4)[np.arange(5000) % 20] + 0.05 * vectors(5000, dim=64)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    settings = ann.AnnSettings(min_windows=0, pca_dim=64, nlist=64, nprobe=16, rerank=100)
    index = SearchIndex(index_file(tmp_path, emb, settings))
    found = []
    for q in emb[:50] + 0.1 * vectors(50, dim=64, seed=3):
        top = set(np.argsort(-(emb @ q))[:10])
        found.append(len(top & {h["row"] for h in index.search(q, 10)}) / 10)
    assert np.mean(found) >= 0.9


def test_lists_follow_the_size_and_training_sample():
    s = ann.AnnSettings()
    assert s.lists(1_000_000) == min(4000, 100_000 // 39)
    assert s.lists(10_000) == 256  # 10,000 / 39
    assert ann.AnnSettings(nlist=7).lists(10**6) == 7
    assert ann.AnnSettings(nlist=1000).lists(64) == 64  # k-means needs a vector per list


def test_a_folder_built_for_another_index_is_refused(tmp_path):
    settings = ann.AnnSettings(min_windows=0, pca_dim=8, nlist=2)
    path = index_file(tmp_path, vectors(100), settings)
    write_search(pq.read_table(path).slice(0, 50), tmp_path / "x.ann", settings)
    with pytest.raises(BadInput, match="built for 50 windows, not 100"):
        SearchIndex(path)


def test_a_damaged_folder_is_named(tmp_path):
    (tmp_path / "x.ann").mkdir()
    (tmp_path / "x.ann" / "meta.json").write_text("{not json")
    with pytest.raises(BadInput, match="meta.json"):
        ann.read_meta(tmp_path / "x.ann")


def test_the_config_defaults_are_the_settings_defaults():
    schema = yaml.safe_load((Path(__file__).parents[1] / REPO_SCHEMA).read_text())
    props = schema["properties"]["index"]["properties"]["ann"]["properties"]
    assert {k: v["default"] for k, v in props.items()} == asdict(ann.AnnSettings())
