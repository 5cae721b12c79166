"""Fill the paper's tables with our numbers: one Cell per (row, dataset, metric).

A ★ row's number comes from its result JSON, one of the files given (`given_results`: the
workflow passes its declared inputs; nothing here looks for files), found by its key, the path's
tail in the evaluation rules' layout (contract of issue #5):

    .../evaluate/retrieval/{zeroshot|finetuned}/{variant}/{dataset}/{strategy}.json
    .../evaluate/localization/{variant}/{dataset}.json

When there is none the cell carries the reason instead, checked in this order: the row cannot
be reproduced here (Row.cannot), the benchmark is not configured, the variant was not run (or
not fine-tuned), the file was not given or is missing, the file lacks the task or metric.

The notes under each table (what is common to its rows, one line per ★ row) come from
eao.tables.notes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from eao.errors import BadInput
from eao.tables.notes import (  # noqa: F401 - Note and the provenance helpers: public here too
    MAIN,
    Note,
    backbone_mismatches,
    describe_provenance,
    random_modalities,
    table_notes,
)
from eao.tables.paper import AVERAGE, TABLES, Metric, Row, Source, Table

# What each localization metric reads from the JSON (its `chance` uses the same keys).
LOCALIZATION_KEYS = {
    "recall": "recall_pooled",
    "recall_per_video": "recall_per_video",
    "IoU": "IoU",
    "IoD": "IoD",
    AVERAGE: "recall_pooled",
}
EXTRA_ROW = "Ours (this run's tasks)"


@dataclass(frozen=True)
class Config:
    """The part of the workflow config the tables need (see eao.tables.__main__).

    `datasets` None: every benchmark counts as configured; `finetune_variants` None: any
    variant may have fine-tuned results (only the file decides)."""

    datasets: frozenset[str] | None = None
    ablations_run: frozenset[str] = frozenset()
    variants: dict = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)
    finetune_variants: frozenset[str] | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        unknown = set(d) - {
            "datasets",
            "ablations_run",
            "variants",
            "pretrain",
            "finetune_variants",
        }
        if unknown:
            raise ValueError(f"unknown config-json keys: {', '.join(sorted(unknown))}")

        def names(key: str) -> frozenset[str] | None:
            return None if d.get(key) is None else frozenset(d[key])

        return cls(
            datasets=names("datasets"),
            ablations_run=frozenset(d.get("ablations_run") or ()),
            variants=dict(d.get("variants") or {}),
            pretrain=dict(d.get("pretrain") or {}),
            finetune_variants=names("finetune_variants"),
        )


@dataclass
class Cell:
    table: str
    row: str
    dataset: str
    metric: str
    paper: float | None
    ours: float | None = None
    chance: float | None = None
    reason: str = ""
    variant: str = ""
    provenance: str = ""
    lower_better: bool = False

    @property
    def above_chance(self) -> bool | None:
        """Whether ours beats chance (below it for MedR); None without both numbers."""
        if self.ours is None or self.chance is None:
            return None
        return self.ours < self.chance if self.lower_better else self.ours > self.chance


@dataclass
class Evaluation:
    """One result file of a ★ row: its data, or why there is none."""

    path: Path
    data: dict | None = None
    reason: str = ""


@dataclass
class BuiltRow:
    row: Row
    key: str  # unique within the table (the CSV's `row`)
    cells: list[Cell]
    evaluations: dict[str, Evaluation] = field(default_factory=dict)

    @property
    def chance_summary(self) -> str:
        """'n/m' cells above chance, '' when no cell has both numbers."""
        flags = [c.above_chance for c in self.cells if c.above_chance is not None]
        return f"{sum(flags)}/{len(flags)}" if flags else ""


@dataclass
class BuiltTable:
    table: Table
    rows: list[BuiltRow]
    notes: list[Note]
    extra: list[Cell] = field(default_factory=list)  # our CrossTask tasks outside the paper's
    task_titles: dict[str, str] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        return [c for r in self.rows for c in r.cells] + self.extra


# --- which result a cell reads, and why one is missing --------------------------------------

Results = dict[str, Path]  # result key -> the file given for it
LAYOUT = (
    ".../evaluate/retrieval/<stage>/<variant>/<dataset>/<strategy>.json or "
    ".../evaluate/localization/<variant>/<dataset>.json"
)


def result_key(source: Source, dataset: str) -> str:
    """The key of the result a ★ row reads for a benchmark: its path in a results folder."""
    if source.kind == "localization":
        return f"evaluate/localization/{source.variant}/{dataset}.json"
    return f"evaluate/retrieval/{source.kind}/{source.variant}/{dataset}/{source.strategy}.json"


def key_of(path: str | Path) -> str | None:
    """A result file's key: its path from `evaluate/` on; None when not in that layout."""
    parts = Path(path).parts
    for n, kind in ((6, "retrieval"), (4, "localization")):
        if len(parts) >= n and parts[-n] == "evaluate" and parts[-n + 1] == kind:
            return "/".join(parts[-n:])
    return None


def given_results(paths: Iterable[str | Path]) -> Results:
    """The result files given, by key; BadInput naming one that is not an evaluation result,
    one no table reads (the caller and the tables disagree), or one given twice."""
    known = {result_key(source, dataset) for source, dataset in _read_sources()}
    out: Results = {}
    for path in paths:
        key = key_of(path)
        if key is None:
            raise BadInput(f"not an evaluation result ({LAYOUT})", str(path))
        if key not in known:
            raise BadInput("no table reads this result", str(path))
        if key in out and out[key] != Path(path):
            raise BadInput(f"a second file for {key} (the first: {out[key]})", str(path))
        out[key] = Path(path)
    return out


def not_configured(source: Source, dataset: str, config: Config) -> str:
    """Why the config cannot have produced this file ('' when it should exist)."""
    if config.datasets is not None and dataset not in config.datasets:
        return f"dataset {dataset} not in config datasets"
    if source.variant != MAIN and source.variant not in config.ablations_run:
        return f"not run: add {source.variant} to ablations.run"
    if (
        source.kind == "finetuned"
        and config.finetune_variants is not None
        and source.variant not in config.finetune_variants
    ):
        return f"not fine-tuned: add {source.variant} to finetune.variants"
    return ""


def load_evaluation(results: Results, source: Source, dataset: str, config: Config) -> Evaluation:
    key = result_key(source, dataset)
    path = results.get(key, Path(key))
    reason = not_configured(source, dataset, config)
    if reason:
        return Evaluation(path, reason=reason)
    if key not in results:
        return Evaluation(path, reason=f"no result: {key} (not among the results given)")
    if not path.is_file():
        return Evaluation(path, reason=f"no result: {path}")
    try:
        return Evaluation(path, data=json.loads(path.read_text()))
    except (OSError, ValueError) as err:
        return Evaluation(path, reason=f"unreadable result: {path}: {err}")


def result_keys(config: Config) -> list[str]:
    """The keys of every result the tables read under this config (the workflow's inputs of
    rule tables: eao.workflow.options.table_inputs)."""
    keys = {
        result_key(source, dataset)
        for source, dataset in _read_sources()
        if not not_configured(source, dataset, config)
    }
    return sorted(keys)


def _read_sources() -> Iterator[tuple[Source, str]]:
    """(source, dataset) of every ★ cell of every table: the results the tables can read."""
    for table in TABLES:
        for row in table.rows:
            if row.source is not None:
                for dataset, _ in table.datasets:
                    yield row.source, dataset


# --- numbers -------------------------------------------------------------------------------


def _number(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def our_value(
    source: Source, metric: Metric, ev: Evaluation
) -> tuple[float | None, float | None, str]:
    """(ours, chance, reason) of one metric from a loaded result."""
    data, chance = ev.data or {}, (ev.data or {}).get("chance") or {}
    if source.kind == "localization":
        key = LOCALIZATION_KEYS.get(metric.key)
        if key is None:  # a CrossTask task id
            ours = (data.get("per_task_pooled") or {}).get(metric.key)
            per_task_chance = chance.get("per_task_pooled")
            chance_value = (
                per_task_chance.get(metric.key) if isinstance(per_task_chance, dict) else None
            )
            reason = "" if ours is not None else f"task {metric.key} not in {ev.path}"
            return _number(ours), _number(chance_value), reason
        ours = data.get(key)
        return (
            _number(ours),
            _number(chance.get(key)),
            "" if ours is not None else f"no {key} in {ev.path}",
        )
    task = (data.get("metrics") or {}).get(source.task)
    if task is None:
        return None, None, f"no task {source.task} in {ev.path}"
    ours = task.get(metric.key)
    reason = "" if ours is not None else f"no {metric.key} of {source.task} in {ev.path}"
    return _number(ours), _number(chance.get(metric.key)), reason


def build_row(table: Table, row: Row, key: str, results: Results, config: Config) -> BuiltRow:
    built = BuiltRow(row, key, [])
    for dataset, _ in table.datasets:
        values = row.paper.get(dataset, (None,) * len(table.metrics))
        ev = None
        if row.source is not None:
            ev = built.evaluations[dataset] = load_evaluation(results, row.source, dataset, config)
        for metric, paper in zip(table.metrics, values, strict=True):
            cell = Cell(
                table.name, key, dataset, metric.key, paper, lower_better=metric.lower_better
            )
            if row.cannot:
                cell.reason = row.cannot
            elif row.source is not None and ev is not None:
                cell.variant = row.source.variant
                if ev.data is None:
                    cell.reason = ev.reason
                else:
                    cell.ours, cell.chance, cell.reason = our_value(row.source, metric, ev)
                    cell.provenance = describe_provenance(ev.data.get("provenance"))
            built.cells.append(cell)
    return built


def extra_tasks(table: Table, built: BuiltTable) -> None:
    """Supp Table 3: our CrossTask tasks whose ids are not the paper's columns become extra
    cells (the demo world has its own task ids), with titles from the result."""
    paper_ids = {m.key for m in table.metrics}
    for brow in built.rows:
        ev = brow.evaluations.get("crosstask")
        if brow.row.source is None or ev is None or ev.data is None:
            continue
        per_task = ev.data.get("per_task_pooled") or {}
        chance = (ev.data.get("chance") or {}).get("per_task_pooled")
        built.task_titles.update(ev.data.get("task_titles") or {})
        provenance = describe_provenance(ev.data.get("provenance"))
        for tid in sorted(set(per_task) - paper_ids, key=str):
            built.extra.append(Cell(
                table.name, EXTRA_ROW, "crosstask", str(tid), None, _number(per_task[tid]),
                _number(chance.get(tid)) if isinstance(chance, dict) else None,
                variant=brow.row.source.variant, provenance=provenance,
            ))  # fmt: skip
        if built.extra:
            for cell in brow.cells:
                if cell.ours is None and cell.metric in paper_ids and cell.metric != AVERAGE:
                    cell.reason += f" (our task ids differ from the paper's: see '{EXTRA_ROW}')"


def build_table(table: Table, results: Results, config: Config) -> BuiltTable:
    rows = [build_row(table, row, row.label, results, config) for row in table.rows]
    built = BuiltTable(table, rows, [])
    if table.name == "supp_table3_crosstask_per_task":
        extra_tasks(table, built)
    built.notes = table_notes(table, built, config)
    return built


def build_all(results: Results, config: Config) -> list[BuiltTable]:
    return [build_table(table, results, config) for table in TABLES]
