"""The demo world's files as the workflow declares them.

Rule demo_world declares everything it writes (`outputs`): each dataset's listing files, its
release files (eao.demo.formats.RELEASE_FILES) and its rendered videos as a `directory()`. A
dataset made of those files reads them through its manifest and captions, so its jobs declare
them too: probe, extraction and the report's thumbnails the videos folder (`videos`), the
manifest and localization the release files found beside the captions file (`release_files`).
A dataset of your own has no videos folder of a rule: its videos are external data, read through
its videos CSV; the release files its readers open beside its captions file are inputs too.
"""

from __future__ import annotations

import os
import re

from eao.demo.formats import RELEASE_FILES, VIDEOS_DIR
from eao.demo.world import DATASETS
from eao.ingest.captions import READ_BESIDE

DEMO_DIR = "results/demo_world"


def demo_dataset(videos_csv: str) -> str | None:
    """The demo world dataset whose videos.csv `videos_csv` is, or None. By the path alone:
    rule demo_world makes these files whether or not demo.enabled plans them, so a dataset
    reading them declares them either way (switching the demo off reruns nothing)."""
    for name in DATASETS:
        if os.path.normpath(videos_csv) == os.path.join(DEMO_DIR, name, "videos.csv"):
            return name
    return None


def _files(name: str) -> list[str]:
    """A demo dataset's files and folders (trailing "/") under its folder, videos.csv first."""
    return ["videos.csv", VIDEOS_DIR, *RELEASE_FILES[name]]


def outputs() -> dict[str, str]:
    """Rule demo_world's outputs by name: the world's ground truth, then each dataset's files;
    a folder keeps its trailing "/" (the adapter declares it a directory())."""
    out = {"world": f"{DEMO_DIR}/world.json"}
    for name in DATASETS:
        for rel in _files(name):
            out[re.sub(r"\W+", "_", f"{name}_{rel}").strip("_")] = f"{DEMO_DIR}/{name}/{rel}"
    return out


def videos(config: dict, dataset: str) -> list[str]:
    """The rendered videos folder of a dataset made of demo files ([] for any other)."""
    name = demo_dataset(config["datasets"][dataset].get("videos") or "")
    return [f"{DEMO_DIR}/{name}/{VIDEOS_DIR.rstrip('/')}"] if name else []


def release_files(config: dict, dataset: str) -> list[str]:
    """The release files a dataset's readers open beside its captions file, the captions file
    left out (an input of its own): all that rule demo_world writes for a demo dataset; for any
    other, those of its layout (eao.ingest.captions.READ_BESIDE) that exist when the DAG is
    built (some are optional: the MSR-VTT split lists, CrossTask's videos_val.csv)."""
    settings = config["datasets"][dataset]
    name = demo_dataset(settings.get("videos") or "")
    if not name:
        captions = settings.get("captions")
        beside = READ_BESIDE.get(settings.get("captions_format") or "", []) if captions else []
        paths = [os.path.join(os.path.dirname(captions), rel.rstrip("/")) for rel in beside]
        return [p for p in paths if os.path.exists(p)]
    paths = [f"{DEMO_DIR}/{name}/{rel.rstrip('/')}" for rel in RELEASE_FILES[name]]
    captions = os.path.normpath(settings.get("captions") or "")
    return [p for p in paths if p != captions]
