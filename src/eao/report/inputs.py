"""What the report's figures are drawn from, read and checked before any figure is written (a
bad input leaves no figure): the training metrics, the retrieval results, the attention shares of
the main model and the search index's inputs of the retrieval grid. Every file read is one the
caller names (rule report_figures passes its inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eao.errors import BadInput, reading


def read_metrics(path: str) -> list[dict]:
    """The records of a metrics.jsonl; BadInput naming the file and line when it is none."""
    with reading(path):
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            with reading(f"{path}, line {number}"):
                records.append(json.loads(line))
            if not isinstance(records[-1], dict) or "step" not in records[-1]:
                raise BadInput("not a training metrics record (no step)", f"{path}, line {number}")
    return records


def read_result(path: str) -> dict:
    """A retrieval result JSON (eao.evaluate.retrieval); BadInput naming the file otherwise."""
    with reading(path):
        result = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(result, dict):
        missing = [k for k in ("metrics", "chance", "clips") if k not in result]
    else:
        missing = ["metrics"]
    if missing or len(Path(path).parts) < 4:  # .../<stage>/<variant>/<dataset>/<strategy>.json
        what = ", ".join(missing) or "stage folders"
        raise BadInput(f"not a retrieval result (no {what})", path)
    return result


def read_results(
    metrics: list[str], retrieval: list[str], datasets: list[str] | None = None
) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """(metrics.jsonl path -> its records, result JSON path -> its content); BadInput when one
    of `datasets` (the benchmarks whose recall figure must be drawn) has no result."""
    runs = {path: read_metrics(path) for path in metrics}
    results = {path: read_result(path) for path in retrieval}
    evaluated = {Path(path).parts[-2] for path in results}
    missing = [d for d in datasets or [] if d not in evaluated]
    if missing:
        raise BadInput(f"no retrieval results for {', '.join(missing)}", "--datasets")
    return runs, results


def attention(
    model_path: str,
    shards: dict[str, list[str]],
    video_tokens: int,
    audio_frames: int,
    max_words: int,
    n_clips: int = 128,
) -> tuple[np.ndarray, int]:
    """(H, 3, 3) attention shares over up to n_clips caption clips of the benchmark whose
    feature shards are given (eao.report.analysis), and the number of clips; shards: the
    FeatureTables keywords (video_2d, video_3d, audio, text) -> shard paths."""
    from eao.checkpoints import load_model
    from eao.data.benchmarks import retrieval_clips, segment_rows
    from eao.data.corpus import FeatureTables
    from eao.report.analysis import modality_attention

    model, _ = load_model(model_path)
    tables = FeatureTables(**shards)
    rows = segment_rows(tables)[:n_clips]
    batch, _ = retrieval_clips(tables, rows, video_tokens, audio_frames, max_words)
    return modality_attention(model, batch), len(rows)


def grid_inputs(index: str, captions: str | None) -> tuple:
    """What retrieval_grid draws from: the index, the indexed videos' captions and their
    query embeddings by the index's model (BadInput naming a file that is not what it should
    be)."""
    from eao.checkpoints import load_model
    from eao.evaluate.search import embed_queries, read_index
    from eao.io.parquet import read_table

    if not captions:
        raise BadInput("--index needs --captions (the index dataset's captions table)")
    table, meta = read_index(index)
    model, _ = load_model(Path(index).parent / meta["model"])
    indexed = set(table["video_id"].to_pylist())
    columns = ["video_id", "start_s", "end_s", "text"]
    all_captions = read_table(captions, columns, kind="captions").to_pylist()
    rows = [c for c in all_captions if c["video_id"] in indexed]
    queries = embed_queries([c["text"] for c in rows], meta, model, "cpu", skip_unknown=True)
    if np.isnan(queries).any(axis=1).all():  # also no rows at all
        raise BadInput("no caption of an indexed video has a word the text encoder knows", captions)
    return table, rows, queries
