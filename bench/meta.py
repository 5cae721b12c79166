"""What every bench JSON records about its run, and how it is written.

`write_result(path, data)` adds a "meta" block (date, host, CPU model, cores, load average
before and after, the command line, the accelerator, library versions) and writes the JSON
atomically. `tools/bench_docs.py` prints that block above every table it generates, so a number
in the docs always says when, where, under what load and by which command it was measured.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import socket
import sys
import time

from eao.io.atomic import write_text_atomic

_START: dict = {}


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else platform's guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def accelerator() -> str | None:
    """The GPU's name when torch sees one (torch imported only if a bench already did)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name()}"


def start() -> None:
    """Called when a bench starts: the load average before it adds its own."""
    _START.setdefault("load_before", load_average())
    _START.setdefault("t0", time.time())


def command() -> str:
    """The command line, the script's path relative to the repository when inside it."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if script.startswith(repo + os.sep):
        script = os.path.relpath(script, repo)
    return shlex.join(["python", script or "-", *sys.argv[1:]])


def run_meta() -> dict:
    torch = sys.modules.get("torch")
    return {
        "date": time.strftime("%Y-%m-%d"),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_before": _START.get("load_before", []),
        "load_after": load_average(),
        "wall_s": round(time.time() - _START["t0"], 1) if "t0" in _START else None,
        "command": command(),
        "accelerator": accelerator(),
        "python": platform.python_version(),
        "torch": getattr(torch, "__version__", None),
    }


def write_result(path: str, data: dict) -> dict:
    """`data` with its "meta" block, written to `path` (folders made); returns what it wrote."""
    out = {"meta": run_meta(), **data}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_text_atomic(path, json.dumps(out, indent=1) + "\n")
    return out


start()
