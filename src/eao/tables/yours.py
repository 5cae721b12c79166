"""Your own retrieval benchmarks: results/tables/your_benchmarks.{md,tex,csv,html}.

Every retrieval benchmark of the run that is not one of the paper's (PAPER_DATASETS) is tabled
here by config alone: a dataset with captions (e.g. `captions_format: generic`,
eao.ingest.generic) and an `evaluate.retrieval.<name>` entry is evaluated by the usual rules,
and each of its result files is a row (benchmark, stage, variant, strategy) with R@1, R@5,
R@10 and MedR of text→video+audio (t→va; t→v for a model without audio). A cell reads
"- / ours / chance" as in the paper's tables ('-': the paper has no number). Without such a
benchmark the table's title and its first note say so (docs/benchmarks.md, "Your own retrieval
benchmark").

Which results: `result_keys(config)` lists every result the config could make for a dataset
outside the paper's (a superset: the workflow passes the ones its plan makes,
eao.workflow.options.table_inputs), `is_yours(key)` accepts any such result given to the tool;
the rows are the results given (`build_yours`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from eao.tables.note_text import clip
from eao.tables.paper import TABLES as PAPER
from eao.tables.provenance import describe_result, random_modalities
from eao.tables.schema import (
    MAIN,
    RETRIEVAL4,
    BuiltRow,
    BuiltTable,
    Cell,
    Config,
    Evaluation,
    Note,
    Row,
    Source,
    Table,
)

NAME = "your_benchmarks"
PAPER_DATASETS = frozenset(name for table in PAPER for name, _ in table.datasets)
STAGES = {"zeroshot": "zero-shot", "finetuned": "fine-tuned"}
STRATEGIES = ("at_once", "uniform", "max_pool", "clips")  # eao.data.benchmarks.STRATEGIES
TASKS = {"t2va": "t→va", "t2v": "t→v"}  # the first the result has
TABLE = Table(
    name=NAME,
    title="Your own retrieval benchmarks",
    source="Not in the paper",
    fields=(),
    datasets=(("yours", "Your benchmarks"),),  # one column group: each row names its benchmark
    metrics=RETRIEVAL4,
    rows=(),
)
HOW = (
    "A benchmark of your own, by config alone: datasets.<name> with captions (captions_format: "
    "generic) and evaluate.retrieval.<name> (docs/benchmarks.md, 'Your own retrieval benchmark')."
)

Key = tuple[str, str, str, str]  # stage, variant, dataset, strategy


# --- which results -------------------------------------------------------------------------


def result_key(stage: str, variant: str, dataset: str, strategy: str) -> str:
    return f"evaluate/retrieval/{stage}/{variant}/{dataset}/{strategy}.json"


def parse_key(key: str) -> Key | None:
    """(stage, variant, dataset, strategy) of a retrieval result of your own; None otherwise."""
    parts = key.split("/")
    if len(parts) != 6 or parts[:2] != ["evaluate", "retrieval"] or parts[2] not in STAGES:
        return None
    if parts[4] in PAPER_DATASETS or not parts[5].endswith(".json"):
        return None
    return parts[2], parts[3], parts[4], parts[5].removesuffix(".json")


def is_yours(key: str) -> bool:
    """Whether the tables read this result (its key, eao.tables.build.key_of) as yours."""
    return parse_key(key) is not None


def result_keys(config: Config) -> list[str]:
    """Every result of a dataset outside the paper's the config could make (no list without
    the config's datasets): zero-shot for main and each variant run, every strategy;
    fine-tuned for the variants fine-tuned."""
    if config.datasets is None:
        return []
    names = sorted(config.datasets - PAPER_DATASETS)
    variants = [MAIN, *sorted(config.ablations_run - {MAIN})]
    tuned = variants
    if config.finetune_variants is not None:
        tuned = [v for v in variants if v in config.finetune_variants]
    keys = [result_key("zeroshot", v, d, s) for d in names for v in variants for s in STRATEGIES]
    return keys + [result_key("finetuned", v, d, "at_once") for d in names for v in tuned]


# --- the rows ------------------------------------------------------------------------------


def _load(path: Path) -> Evaluation:
    if not path.is_file():
        return Evaluation(path, reason=f"no result: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return Evaluation(path, reason=f"unreadable result: {path}: {err}")
    if not isinstance(data, dict):
        return Evaluation(path, reason=f"unreadable result: {path}: not a JSON object")
    return Evaluation(path, data=data)


def _number(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _task(data: dict | None) -> str:
    metrics = (data or {}).get("metrics") or {}
    return next((t for t in TASKS if isinstance(metrics.get(t), dict)), "")


def _row(key: Key, path: Path) -> BuiltRow:
    stage, variant, dataset, strategy = key
    evaluation = _load(path)
    task = _task(evaluation.data)
    label = f"{dataset}: {variant}, {STAGES[stage]}, {strategy}"
    label += f", {TASKS[task]}" if task else ""
    built = BuiltRow(Row(label, source=Source(stage, variant, task, strategy)), label, [])
    built.evaluations[dataset] = evaluation
    data = evaluation.data or {}
    ours, chance = (data.get("metrics") or {}).get(task) or {}, data.get("chance") or {}
    for metric in TABLE.metrics:
        cell = Cell(table=NAME, row=label, dataset=dataset, metric=metric.key, paper=None)
        cell.variant, cell.lower_better = variant, metric.lower_better
        cell.ours, cell.chance = _number(ours.get(metric.key)), _number(chance.get(metric.key))
        if evaluation.data is None:
            cell.reason = evaluation.reason
        elif not task:
            cell.reason = f"no task {' or '.join(TASKS)} in {path}"
        elif cell.ours is None:
            cell.reason = f"no {metric.key} of {task} in {path}"
        cell.provenance = describe_result(data) if evaluation.data else ""
        built.cells.append(cell)
    return built


def _order(key: Key) -> tuple:
    stage, variant, dataset, strategy = key
    rank = STRATEGIES.index(strategy) if strategy in STRATEGIES else len(STRATEGIES)
    return dataset, list(STAGES).index(stage), variant != MAIN, variant, rank, strategy


def build_yours(results: dict[str, Path], config: Config) -> BuiltTable:
    """The table of your benchmarks from the results given (key -> file, eao.tables.build's
    given_results): a row per result of yours, the notes under it."""
    mine = {k: path for key, path in results.items() if (k := parse_key(key)) is not None}
    rows = [_row(key, mine[key]) for key in sorted(mine, key=_order)]
    table = TABLE
    if not rows:
        table = dataclasses.replace(TABLE, title=f"{TABLE.title}: none in this run")
    return BuiltTable(table, rows, table_notes(rows, config))


# --- notes ---------------------------------------------------------------------------------


def row_note(built_row: BuiltRow, config: Config) -> Note:
    """'★ <row>: 5/6 clips, split test; <variant description>' or why it has no number."""
    evaluation = next(iter(built_row.evaluations.values()))
    if evaluation.data is None:
        return Note(clip(f"★ {built_row.key}: n/a: {evaluation.reason}"))
    data, variant = evaluation.data, built_row.row.source.variant
    parts = [f"{data.get('clips', '?')}/{data.get('complete_size', '?')} clips"]
    parts.append(f"split {data['split']}" if data.get("split") else "every video")
    about = (config.variants.get(variant) or {}).get("description")
    if variant != MAIN and about:
        parts.append(f"variant {variant}: {about}")
    return Note(clip(f"★ {built_row.key}: " + ", ".join(parts)))


def table_notes(rows: list[BuiltRow], config: Config) -> list[Note]:
    """What the rows are and how to read them, a warning for random backbone weights, a line
    per row; without rows, that there are none and how to add one."""
    paper = ", ".join(sorted(PAPER_DATASETS))
    if not rows:
        none = f"None in this run: no retrieval benchmark besides the paper's ({paper})."
        return [Note(none, True), Note(clip(HOW))]
    texts = [
        f"Every retrieval benchmark of this run besides the paper's ({paper}), a row per "
        "result: results/evaluate/retrieval/<stage>/<variant>/<name>/<strategy>.json.",
        "Cells: - / ours / chance ('-': no paper number; chance: a random ranking of the same "
        "clips); '> chance' counts our cells that beat it (MedR: below it).",
        "t→va: the text against the fused video+audio embedding (t→v: a model without audio); "
        "R@K in % of the clips (complete_size when set), MedR over the evaluated clips.",
    ]
    notes = [Note(clip(text)) for text in texts]
    loaded = [
        evaluation.data for r in rows for evaluation in r.evaluations.values() if evaluation.data
    ]
    random = sorted({m for d in loaded for m in random_modalities(d.get("provenance"))})
    if random:
        warning = (
            f"WARNING: our numbers come from RANDOM backbone weights ({', '.join(random)}): "
            "they test the pipeline end to end, not a trained model."
        )
        notes.append(Note(clip(warning), True))
    return notes + [row_note(built_row, config) for built_row in rows] + [Note(clip(HOW))]
