"""`eao serve` through Starlette's test client: the page and the API agree with `eao search`,
every bad request is a 4xx with its message (never a 500), only the index's own videos are
served (ids, not paths: traversal and links out of the folder are 404), with range requests.
The browser walk-through on the demo index is tests/test_serve_browser.py."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from eao.evaluate.ann import AnnSettings  # noqa: E402
from eao.evaluate.queries import QueryEncoder  # noqa: E402
from eao.evaluate.search import SearchIndex, write_search  # noqa: E402
from eao.io.parquet import write_table  # noqa: E402
from eao.model.eao import EverythingAtOnce, ModelConfig  # noqa: E402
from eao.serve.app import create_app  # noqa: E402
from eao.serve.catalog import MAX_K, open_served  # noqa: E402

DIM = 16


def small_model(path: Path) -> EverythingAtOnce:
    torch.manual_seed(0)
    cfg = ModelConfig(
        video_dim=8, width=16, heads=2, proj_dim=DIM, audio_channels=(4, 4, 4, 8, 8, 8, 16)
    )
    model = EverythingAtOnce(cfg).eval()
    torch.save({"model": model.state_dict(), "model_config": asdict(cfg)}, path)
    return model


def make_video(path: Path, seconds: int = 4) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"]
    cmd += ["-i", f"testsrc=size=64x48:rate=10:duration={seconds}", "-pix_fmt", "yuv420p"]
    subprocess.run([*cmd, str(path)], check=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as the workflow leaves it: videos/, results/index/mine.parquet (+ .ann), the
    model; one listed video is a link to a file outside videos/."""
    root = tmp_path_factory.mktemp("site")
    small_model(root / "model.pt")
    for name in ("a", "b"):
        make_video(root / "videos" / f"{name}.mp4")
    make_video(root / "outside" / "secret.mp4")
    os.symlink(root / "outside" / "secret.mp4", root / "videos" / "link.mp4")
    ids = ["a"] * 3 + ["b"] * 3 + ["link"] * 2
    paths = [f"videos/{v}.mp4" for v in ids]
    emb = np.random.default_rng(0).standard_normal((len(ids), DIM)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    table = pa.table(
        {
            "video_id": ids,
            "path": paths,
            "start_s": [0.0, 1.0, 2.0] * 2 + [0.0, 1.0],
            "end_s": [2.0, 3.0, 4.0] * 2 + [2.0, 3.0],
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), DIM),
        }
    )
    footer = {"table": "index", "model": "../../model.pt", "max_words": "20"}
    footer |= {"text_encoder": "word2vec", "text_weights": "random", "text_seed": "0"}
    index = root / "results" / "index" / "mine.parquet"
    write_table(table, str(index), footer)
    write_search(table, index.with_suffix(".ann"), AnnSettings())
    return root


@pytest.fixture(scope="module")
def client(site: Path):
    cwd = os.getcwd()
    os.chdir(site)  # the index lists its videos relative to the workflow's folder
    try:
        served = open_served(["results/index/mine.parquet"], "cpu")
        with TestClient(create_app(served), raise_server_exceptions=True) as c:
            yield c
    finally:
        os.chdir(cwd)


def test_api_search_is_eao_search(client, site):
    got = client.get("/api/search", params={"q": "crack the eggs", "k": 5})
    assert got.status_code == 200
    body = got.json()
    index = SearchIndex(str(site / "results/index/mine.parquet"))
    model = EverythingAtOnce(ModelConfig(**torch.load(site / "model.pt")["model_config"]))
    model.load_state_dict(torch.load(site / "model.pt")["model"])
    query = QueryEncoder(index.meta, model.eval(), "cpu", None).embed(["crack the eggs"])[0]
    want = index.search(query, 5)
    assert [(r["video_id"], r["start_s"]) for r in body["results"]] == [
        (w["video_id"], w["start_s"]) for w in want
    ]
    assert [r["rank"] for r in body["results"]] == [1, 2, 3, 4, 5]
    assert body["index"]["text_encoder"] == "word2vec (random)"
    assert body["index"]["search"] == "exact"


def test_page_shows_the_api_results_and_names_model_and_encoder(client):
    api = client.get("/api/search", params={"q": "crack the eggs", "k": 3}).json()
    page = client.get("/", params={"q": "crack the eggs", "k": 3})
    assert page.status_code == 200
    assert page.text.count('class="hit"') == 3
    for r in api["results"]:
        assert r["thumbnail"] in page.text and r["video"] in page.text
    assert "model.pt" in page.text and "word2vec (random)" in page.text
    assert client.get("/").status_code == 200  # no query yet: the form only


def test_thumbnail_is_a_jpeg_of_the_window(client):
    hit = client.get("/api/search", params={"q": "eggs", "k": 1}).json()["results"][0]
    got = client.get(hit["thumbnail"])
    if hit["video_id"] == "link":  # the link's window: its video is not served
        assert got.status_code == 404
        return
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.content[:2] == b"\xff\xd8"


def test_video_answers_range_requests(client, site):
    whole = (site / "videos" / "a.mp4").read_bytes()
    got = client.get("/video/mine/0", headers={"Range": "bytes=10-109"})
    assert got.status_code == 206
    assert got.content == whole[10:110]
    assert client.get("/video/mine/0").content == whole


BAD = [
    ({"q": ""}, 400, "empty query"),
    ({"q": "   "}, 400, "empty query"),
    ({"q": "?!? ..."}, 400, "no word the text encoder knows"),
    ({"q": "eggs", "index": "nope"}, 404, "no index named 'nope'"),
    ({"q": "eggs", "k": "0"}, 400, f"k must be between 1 and {MAX_K}"),
    ({"q": "eggs", "k": str(MAX_K + 1)}, 400, f"k must be between 1 and {MAX_K}"),
    ({"q": "eggs", "k": "ten"}, 400, "k must be a whole number"),
    ({"q": "eggs " * 101}, 400, "query too long"),
]


@pytest.mark.parametrize(("params", "status", "message"), BAD)
def test_bad_requests_are_4xx_with_their_message(client, params, status, message):
    api = client.get("/api/search", params=params)
    assert api.status_code == status
    assert message in api.json()["error"]
    page = client.get("/", params=params)
    assert page.status_code == status
    assert message.replace("'", "&#39;") in page.text


@pytest.mark.parametrize(
    "url",
    [
        "/video/mine/2",  # listed, but a link to a file outside its folder
        "/video/mine/3",  # no such video
        "/video/mine/-1",
        "/video/mine/..%2F..%2Foutside%2Fsecret.mp4",
        "/video/mine/%2Fetc%2Fpasswd",
        "/video/mine/../../outside/secret.mp4",
        "/video/other/0",
        "/thumb/mine/99.jpg",
        "/thumb/mine/7.jpg",  # the link's window
        "/thumb/mine/..%2F0.jpg",
        "/video/mine/%C2%B2",  # '²': a digit to str.isdigit, not to int()
        "/thumb/mine/%C2%B2.jpg",
        "/video/mine/" + "9" * 5000,
    ],
)
def test_only_the_index_videos_are_served(client, url):
    assert client.get(url).status_code == 404


def test_serve_refuses_a_bad_index_or_port_in_one_line(tmp_path, site):
    missing = [sys.executable, "-m", "eao.serve", str(tmp_path / "nope.parquet")]
    got = subprocess.run(missing, capture_output=True, text=True, timeout=120)
    assert got.returncode == 2
    assert "nope.parquet" in got.stderr and "Traceback" not in got.stderr
    assert len(got.stderr.strip().splitlines()) == 1
    bad_port = [*missing[:3], str(site / "results/index/mine.parquet"), "--port", "70000"]
    got = subprocess.run(bad_port, capture_output=True, text=True, timeout=120)
    assert got.returncode == 2 and "--port" in got.stderr


def test_eao_search_goes_through_the_approximate_folder_too(site, tmp_path, capsys):
    """The same index with an approximate folder that visits every list: `eao search` ranks
    as the exact search does."""
    import json
    import shutil

    from eao.evaluate.search import search_main

    exact_index = site / "results/index/mine.parquet"
    index = tmp_path / "results/index/mine.parquet"
    index.parent.mkdir(parents=True)
    shutil.copyfile(exact_index, index)
    settings = AnnSettings(min_windows=0, pca_dim=DIM, nlist=1, nprobe=1)
    write_search(pq.read_table(index), index.with_suffix(".ann"), settings)
    assert SearchIndex(str(index)).search_kind == "ivf"
    hits = {}
    for path in (exact_index, index):
        search_main(
            [str(path), "crack the eggs", "-k", "4", "--json", "--model", str(site / "model.pt")]
        )
        hits[path] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [h["row"] for h in hits[index]] == [h["row"] for h in hits[exact_index]]
    assert [h["score"] for h in hits[index]] == pytest.approx(
        [h["score"] for h in hits[exact_index]], abs=1e-3
    )


def test_a_link_into_a_named_video_root_is_served(site):
    from eao.serve.catalog import finite, video_file

    cwd = os.getcwd()
    os.chdir(site)
    try:
        served = open_served(["results/index/mine.parquet"], "cpu", roots=[str(site / "outside")])
        assert video_file(served, "mine", "2") == (site / "outside" / "secret.mp4").resolve()
        assert video_file(served, "mine", "0") == (site / "videos" / "a.mp4").resolve()
    finally:
        os.chdir(cwd)
    assert finite(float("nan")) is None and finite(1.5) == 1.5


def test_serve_binds_to_localhost_by_default():
    from eao.serve.__main__ import parser

    assert parser().parse_args(["x.parquet"]).host == "127.0.0.1"
