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
from pathlib import Path

from eao.errors import BadInput
from eao.tables.notes import table_notes
from eao.tables.paper import AVERAGE, TABLES
from eao.tables.provenance import describe_result
from eao.tables.schema import (
    MAIN,
    BuiltRow,
    BuiltTable,
    Cell,
    Config,
    Evaluation,
    Metric,
    Row,
    Source,
    Table,
)
from eao.tables.yours import is_yours
from eao.tables.yours import result_keys as your_result_keys

# The types are eao.tables.schema's; the workflow and the tests import them from here too.
__all__ = [
    "EXTRA_ROW",
    "BuiltRow",
    "BuiltTable",
    "Cell",
    "Config",
    "Evaluation",
    "Results",
    "build_all",
    "build_row",
    "build_table",
    "given_results",
    "key_of",
    "load_evaluation",
    "result_key",
    "result_keys",
]

# What each localization metric reads from the JSON (its `chance` uses the same keys).
LOCALIZATION_KEYS = {
    "recall": "recall_pooled",
    "recall_per_video": "recall_per_video",
    "IoU": "IoU",
    "IoD": "IoD",
    AVERAGE: "recall_pooled",
}
EXTRA_ROW = "Ours (this run's tasks)"


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
    for depth, kind in ((6, "retrieval"), (4, "localization")):  # parts from `evaluate` on
        if len(parts) >= depth and parts[-depth] == "evaluate" and parts[-depth + 1] == kind:
            return "/".join(parts[-depth:])
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
        if key not in known and not is_yours(key):  # yours: eao.tables.yours
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
    """The result a ★ row reads for a benchmark, or why there is none (module docstring)."""
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
    rule tables: eao.workflow.options.table_inputs); for your own benchmarks every result the
    config could make (eao.tables.yours.result_keys)."""
    keys = {
        result_key(source, dataset)
        for source, dataset in _read_sources()
        if not not_configured(source, dataset, config)
    }
    return sorted(keys | set(your_result_keys(config)))


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
    source: Source, metric: Metric, evaluation: Evaluation
) -> tuple[float | None, float | None, str]:
    """(ours, chance, reason) of one metric from a loaded result."""
    data = evaluation.data or {}
    chance = data.get("chance") or {}
    if source.kind == "localization":
        key = LOCALIZATION_KEYS.get(metric.key)
        if key is None:  # a CrossTask task id
            ours = (data.get("per_task_pooled") or {}).get(metric.key)
            per_task_chance = chance.get("per_task_pooled")
            chance_value = (
                per_task_chance.get(metric.key) if isinstance(per_task_chance, dict) else None
            )
            reason = "" if ours is not None else f"task {metric.key} not in {evaluation.path}"
            return _number(ours), _number(chance_value), reason
        ours = data.get(key)
        reason = "" if ours is not None else f"no {key} in {evaluation.path}"
        return _number(ours), _number(chance.get(key)), reason
    task = (data.get("metrics") or {}).get(source.task)
    if task is None:
        return None, None, f"no task {source.task} in {evaluation.path}"
    ours = task.get(metric.key)
    reason = "" if ours is not None else f"no {metric.key} of {source.task} in {evaluation.path}"
    return _number(ours), _number(chance.get(metric.key)), reason


def build_row(table: Table, row: Row, key: str, results: Results, config: Config) -> BuiltRow:
    """The row's cells: the paper's numbers, and for a ★ row ours or why there is none."""
    built = BuiltRow(row, key, [])
    for dataset, _ in table.datasets:
        values = row.paper.get(dataset, (None,) * len(table.metrics))
        evaluation = None
        if row.source is not None:
            evaluation = load_evaluation(results, row.source, dataset, config)
            built.evaluations[dataset] = evaluation
        for metric, paper in zip(table.metrics, values, strict=True):
            cell = Cell(
                table.name, key, dataset, metric.key, paper, lower_better=metric.lower_better
            )
            if row.cannot:
                cell.reason = row.cannot
            elif row.source is not None and evaluation is not None:
                _fill_ours(cell, row.source, metric, evaluation)
            built.cells.append(cell)
    return built


def _fill_ours(cell: Cell, source: Source, metric: Metric, evaluation: Evaluation) -> None:
    """Our number, chance and provenance in a ★ row's cell, or the reason there are none."""
    cell.variant = source.variant
    if evaluation.data is None:
        cell.reason = evaluation.reason
    else:
        cell.ours, cell.chance, cell.reason = our_value(source, metric, evaluation)
        cell.provenance = describe_result(evaluation.data)


def extra_tasks(table: Table, built: BuiltTable) -> None:
    """Supp Table 3: our CrossTask tasks whose ids are not the paper's columns become extra
    cells (the demo world has its own task ids), with titles from the result."""
    paper_ids = {metric.key for metric in table.metrics}
    for built_row in built.rows:
        evaluation = built_row.evaluations.get("crosstask")
        if built_row.row.source is None or evaluation is None or evaluation.data is None:
            continue
        built.task_titles.update(evaluation.data.get("task_titles") or {})
        built.extra += _extra_task_cells(table, built_row.row.source, evaluation.data, paper_ids)
        if built.extra:
            for cell in built_row.cells:
                if cell.ours is None and cell.metric in paper_ids and cell.metric != AVERAGE:
                    cell.reason += f" (our task ids differ from the paper's: see '{EXTRA_ROW}')"


def _extra_task_cells(table: Table, source: Source, data: dict, paper_ids: set[str]) -> list[Cell]:
    """A cell per task of a CrossTask result whose id is not among the paper's, by id."""
    per_task = data.get("per_task_pooled") or {}
    chance = (data.get("chance") or {}).get("per_task_pooled")
    provenance = describe_result(data)
    return [
        Cell(
            table.name,
            EXTRA_ROW,
            "crosstask",
            str(task_id),
            None,
            ours=_number(per_task[task_id]),
            chance=_number(chance.get(task_id)) if isinstance(chance, dict) else None,
            variant=source.variant,
            provenance=provenance,
        )
        for task_id in sorted(set(per_task) - paper_ids, key=str)
    ]


def build_table(table: Table, results: Results, config: Config) -> BuiltTable:
    """The table's rows, Supp Table 3's extra tasks, and the notes under it."""
    rows = [build_row(table, row, row.label, results, config) for row in table.rows]
    built = BuiltTable(table, rows, [])
    if table.name == "supp_table3_crosstask_per_task":
        extra_tasks(table, built)
    built.notes = table_notes(table, built, config)
    return built


def build_all(results: Results, config: Config) -> list[BuiltTable]:
    """Every table of the paper and supplement (eao.tables.paper.TABLES)."""
    return [build_table(table, results, config) for table in TABLES]
