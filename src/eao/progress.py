"""Progress bars: tqdm on a terminal; off under CI and when stderr is not a terminal.

Snakemake sends a job's stderr to its log file, where a redrawn bar is noise, so bars show only
when someone is watching. EAO_PROGRESS=1 forces them on, EAO_PROGRESS=0 off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def enabled() -> bool:
    forced = os.environ.get("EAO_PROGRESS")
    if forced is not None:
        return forced == "1"
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    return iter(tqdm(items, desc=desc, total=total, disable=not enabled(), dynamic_ncols=True))
