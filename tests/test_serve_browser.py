"""`eao serve results/index/youcook2.parquet` in a real browser: headless Chromium from Debian
(chromium, chromium-driver), driven by Selenium with the system driver (nothing downloads a
browser), on the tiny workflow's index. It types a caption whose own window the model ranks
first (the report's own-window check), sees k results with that window first, clicks it, and
the video plays from the window's start. The screenshot is kept in results/test-artifacts/
(EAO_ARTIFACTS to move it). `make test-browser` installs Chromium when missing (root, Debian);
elsewhere the test is skipped with the reason."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="no chromium and chromium-driver (Debian's; `make test-browser` installs them)",
    ),
]
REPO = Path(__file__).resolve().parents[1]
K = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_run: Path):
    port = free_port()
    cmd = [sys.executable, "-m", "eao.serve", "results/index/youcook2.parquet", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=tiny_run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # loads the model and the text encoder first
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url + "/api/indexes", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    if proc.poll() is not None:
        pytest.fail(f"eao serve exited: {proc.stdout.read().decode()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def own_first_caption(tiny_run: Path) -> dict:
    """A caption of an indexed video whose own window (same video, overlapping its span) the
    exact search ranks first, as the report's retrieval grid checks."""
    from eao.evaluate.search import search
    from eao.report.inputs import grid_inputs

    table, rows, queries = grid_inputs(
        str(tiny_run / "results/index/youcook2.parquet"),
        str(tiny_run / "results/manifest/youcook2/captions.parquet"),
    )
    for caption, query in zip(rows, queries, strict=True):
        if np.isnan(query).any():  # no word the text encoder knows
            continue
        top = search(table, query, 1)[0]
        same = top["video_id"] == caption["video_id"]
        if same and top["start_s"] < caption["end_s"] and top["end_s"] > caption["start_s"]:
            return {**caption, "start": top["start_s"]}
    pytest.fail("the tiny model ranks no caption's own window first")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--mute-audio"):
        options.add_argument(arg)
    options.add_argument("--autoplay-policy=no-user-gesture-required")
    options.add_argument("--window-size=1100,1000")
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def test_search_click_and_play_in_chromium(server: str, tiny_run: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    caption = own_first_caption(tiny_run)
    artifacts = Path(os.environ.get("EAO_ARTIFACTS", REPO / "results" / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    driver = browser()
    try:
        driver.get(server + "/")
        box = driver.find_element(By.NAME, "q")
        box.send_keys(caption["text"])
        driver.find_element(By.NAME, "k").clear()
        driver.find_element(By.NAME, "k").send_keys(str(K))
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        hits = WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".hit"))
        assert len(hits) == K
        first = hits[0]
        assert first.get_attribute("data-label").startswith(caption["video_id"])
        assert float(first.get_attribute("data-start")) == pytest.approx(caption["start"])
        assert "model.pt" in driver.find_element(By.ID, "about").text
        first.click()
        player = driver.find_element(By.ID, "player")
        played = WebDriverWait(driver, 60).until(
            lambda d: d.execute_script(
                "const p = arguments[0]; return p.dataset.sought !== undefined"
                " ? [p.currentTime, parseFloat(p.dataset.sought)] : null",
                player,
            )
        )
        assert played[1] == pytest.approx(caption["start"])
        # playing from there: at most a second on by the time the script reads it
        assert caption["start"] - 0.05 <= played[0] <= caption["start"] + 1.0
        driver.save_screenshot(str(artifacts / "serve.png"))
    finally:
        driver.quit()
    assert (artifacts / "serve.png").stat().st_size > 10_000


def test_api_bad_requests_through_the_real_server(server: str):
    import json
    import urllib.error

    for path, status in [("/api/search?q=", 400), ("/api/search?q=x&index=none", 404)]:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(server + path, timeout=30)
        assert e.value.code == status and "error" in json.loads(e.value.read())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server + "/video/youcook2/..%2F..%2FSnakefile", timeout=30)
    assert e.value.code == 404
