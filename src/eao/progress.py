"""Progress of long steps: a tqdm bar on a terminal, a plain line now and then otherwise.

Snakemake sends a job's stderr to its log file, where a redrawn bar is noise: there (and under
CI) a line `desc: done/total (pct) elapsed, rate` goes to stderr at most every
EAO_PROGRESS_EVERY seconds (default 60) and once at the end. EAO_PROGRESS=bar forces the bar,
EAO_PROGRESS=lines the lines, EAO_PROGRESS=0 silences both.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def mode() -> str:
    """'bar', 'lines' or 'off'."""
    forced = os.environ.get("EAO_PROGRESS")
    if forced is not None:
        return {"0": "off", "1": "bar", "bar": "bar", "lines": "lines"}.get(forced, "off")
    return "bar" if sys.stderr.isatty() and not os.environ.get("CI") else "lines"


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    kind = mode()
    if kind == "bar":
        return iter(tqdm(items, desc=desc, total=total, dynamic_ncols=True))
    if kind == "lines":
        every = float(os.environ.get("EAO_PROGRESS_EVERY", "60"))
        return _lines(items, desc, total if total is not None else _len(items), every)
    return iter(items)


def _len(items: Iterable) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


def _lines(items: Iterable[T], desc: str, total: int | None, every: float) -> Iterator[T]:
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every:
            _line(desc, done, total, now - start)
            last = now
    _line(desc, done, total, time.monotonic() - start)


def _line(desc: str, done: int, total: int | None, seconds: float) -> None:
    of = f"/{total} ({100 * done / total:.0f} %)" if total else ""
    rate = f", {done / seconds:.2f}/s" if seconds > 0 else ""
    print(f"{desc}: {done}{of} in {seconds:.0f} s{rate}", file=sys.stderr, flush=True)
