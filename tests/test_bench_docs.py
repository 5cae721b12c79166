"""The benchmark tables of BENCHMARKS.md and docs/cluster.md are their JSONs' (tools/bench_docs.py).

Every generated region is regenerated from the committed bench/results/*.json and compared with
the docs; the prose around the regions states no measured number of its own."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_docs", REPO / "tools/bench_docs.py")
bench_docs = importlib.util.module_from_spec(_spec)
sys.modules["bench_docs"] = bench_docs
_spec.loader.exec_module(bench_docs)

# a measured-looking number: a ratio (2.5×; not 640×360, nor a product like 224 × 10) or a rate
# with its unit
MEASURED = re.compile(
    r"\d(?:\.\d+)?×(?!\d)"
    r"|\d(?:\.\d+)?\s?(?:video-s/s|clips/s|frames/s|rows/s|s/step|GFLOP/s|s a step)"
)


@pytest.mark.parametrize("doc", bench_docs.DOCS)
def test_docs_are_their_jsons(doc):
    text = (REPO / doc).read_text(encoding="utf-8")
    assert bench_docs.regions(text), f"{doc} has no generated region"
    assert bench_docs.render_doc(text) == text, (
        f"{doc}: a generated table differs from bench/results/*.json; run `make bench-docs` "
        "(never edit between <!-- bench:... --> and <!-- /bench -->)"
    )


@pytest.mark.parametrize("doc", bench_docs.DOCS)
def test_prose_states_no_measured_number(doc):
    text = (REPO / doc).read_text(encoding="utf-8")
    prose = bench_docs.REGION.sub("", text)
    if doc == "docs/cluster.md":  # only its cost section is generated
        prose = prose[prose.index("## 6.") : prose.index("## 7.")]
    found = [m[0] for m in MEASURED.finditer(prose)]
    assert not found, f"{doc}: numbers in hand-written prose, generate them instead: {found}"


def test_every_region_names_a_renderer():
    for doc in bench_docs.DOCS:
        for renderer, _ in bench_docs.regions((REPO / doc).read_text(encoding="utf-8")):
            assert renderer in bench_docs.RENDERERS, (doc, renderer)


def word2vec_json(speedup: float) -> dict:
    meta = {
        "date": "2026-01-02",
        "host": "box",
        "cpu": "CPU X",
        "cores": 4,
        "load_before": [1.5, 1.0, 0.5],
        "load_after": [2.0, 1.0, 0.5],
        "command": "python bench/word2vec.py --words 10",
        "accelerator": None,
        "torch": "2.0",
    }
    runs = {"s_median": 1.0, "s_runs": [1.0, 1.0, 1.0], "rss_mb": 100.0}
    return {
        "meta": meta,
        "baseline_is": "parse the binary",
        "words": 10,
        "dim": 3,
        "binary_mb": 0.1,
        "convert_s": 0.5,
        "before": runs,
        "after": {**runs, "s_median": 1.0 / speedup},
        "speedup": speedup,
    }


def test_a_changed_number_is_caught(tmp_path):
    doc = "intro\n<!-- bench:word2vec@word2vec -->\nstale\n<!-- /bench -->\nafter\n"
    (tmp_path / "word2vec.json").write_text(json.dumps(word2vec_json(17.8)))
    rendered = bench_docs.render_doc(doc, tmp_path)
    assert rendered.startswith("intro\n<!-- bench:word2vec@word2vec -->\nMeasured 2026-01-02")
    assert rendered.endswith("<!-- /bench -->\nafter\n")
    for part in ("`box`", "CPU X, 4 cores", "load average 1.5, 1, 0.5 before", "--words 10"):
        assert part in rendered
    assert "Baseline: parse the binary." in rendered and "**17.8×**" in rendered
    assert bench_docs.render_doc(rendered, tmp_path) == rendered  # stable
    (tmp_path / "word2vec.json").write_text(json.dumps(word2vec_json(9.5)))
    assert bench_docs.render_doc(rendered, tmp_path) != rendered


def test_missing_json_says_how_to_measure(tmp_path):
    doc = "<!-- bench:training@training_gpu -->\n<!-- /bench -->\n"
    out = bench_docs.render_doc(doc, tmp_path)
    assert "Not measured yet" in out and "bench/gpu.sh" in out
    assert not re.search(r"\d", out.replace("training_gpu", ""))


def test_collect_copies_and_recosts(tmp_path):
    src, results = tmp_path / "src", tmp_path / "results"
    src.mkdir()
    (src / "word2vec.json").write_text(json.dumps(word2vec_json(3.0)))
    (src / "cost.json").write_text("{}")  # recomputed, never copied
    assert bench_docs.collect(src, results) == ["word2vec.json"]
    cost = json.loads((results / "cost.json").read_text())
    assert cost["meta"]["command"].startswith("python bench/cost.py")
    assert any("job start-up" in r["source"] for r in cost["rows"])
