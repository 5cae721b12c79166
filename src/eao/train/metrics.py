"""A training run's metrics: JSON lines in OUT_DIR/metrics.jsonl and TensorBoard events in
OUT_DIR/tensorboard, both rebuilt from the checkpoint when a run resumes.

Every checkpoint holds the records logged up to it (`history`). The files are outputs, and
Snakemake deletes a job's outputs when the job fails and again before it reruns it, so a resumed
run cannot append to what the killed one wrote: it writes metrics.jsonl anew from the history
(atomically), then one line per logged step, so every step is in it exactly once. TensorBoard
events start from an empty folder, the history replayed (with the replay's wall times), then
live: no step twice after a resume, and no events of an older run. A fresh start has an empty
history: it replaces an old metrics.jsonl and its events instead of appending to them.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from eao.io.atomic import write_text_atomic

log = logging.getLogger("eao.train")


def summary_writer(folder: Path) -> Any:
    """A TensorBoard SummaryWriter writing into `folder`, or None without tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is a pinned dependency; only a broken env lacks it
        log.warning("tensorboard is not installed: metrics go to metrics.jsonl only")
        return None
    return SummaryWriter(str(folder))


def read_records(path: Path) -> list[dict]:
    """The whole JSON lines of a metrics.jsonl (a line cut short by a kill is left out)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class MetricsLog:
    """metrics.jsonl and TensorBoard on the main rank (`enabled`), and the history of records
    that every checkpoint carries. `start()` writes both from the history; `write()` appends."""

    def __init__(self, out_dir: Path, enabled: bool):
        self.enabled = enabled
        self.path = out_dir / "metrics.jsonl"
        self.tb_dir = out_dir / "tensorboard"
        self.history: list[dict] = []
        self.tb = None
        self.started = False

    def resume(self, history: list[dict] | None, step: int) -> None:
        """Continue after `step` with the checkpoint's records. A checkpoint written before
        checkpoints held them has none: then the old metrics.jsonl's records up to its step."""
        if history is None:
            history = [r for r in read_records(self.path) if r.get("step", 0) <= step]
            log.warning(
                "the checkpoint holds no metrics history: keeping %d records of %s up to step %d",
                len(history),
                self.path,
                step,
            )
        self.history = list(history)

    def start(self) -> None:
        """metrics.jsonl and the TensorBoard folder anew, holding the history (none on a fresh
        start). The folder is made even without tensorboard: the workflow declares it."""
        if not self.enabled or self.started:
            return
        self.started = True
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in self.history))
        shutil.rmtree(self.tb_dir, ignore_errors=True)
        self.tb_dir.mkdir(parents=True)
        self.tb = summary_writer(self.tb_dir)
        for record in self.history:
            self.add_scalars(record)

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        self.start()
        self.history.append(record)
        # Appending is safe: a line cut short by a kill is past the checkpoint, and the resumed
        # run rewrites the file from the checkpoint's history.
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self.add_scalars(record)

    def add_scalars(self, record: dict) -> None:
        if self.tb is None or "loss" not in record:
            return
        step = record["step"]
        self.tb.add_scalar("loss/total", record["loss"], step)
        for name, value in record.get("parts", {}).items():
            self.tb.add_scalar(f"loss/{name}", value, step)
        self.tb.add_scalar("lr", record["lr"], step)
        self.tb.add_scalar("clips_per_s", record["clips_per_s"], step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
