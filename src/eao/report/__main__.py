"""`python -m eao.report`: the report's figures from the run's results (rule report_figures).

    python -m eao.report --metrics results/pretrain/*/metrics.jsonl \
        --retrieval results/evaluate/retrieval/*/*/*/at_once.json --out-dir results/report

Every file it reads is named on the command line (rule report_figures passes its inputs): the
attention analysis reads exactly the feature shards given by --video-2d/--video-3d/--audio/--text.

- training.png: per pretrained variant, the total loss and each of the six loss terms, the
  learning rate and the throughput (clips/s, a moving median over CLIPS_WINDOW logged steps:
  the raw rate is noise) against the step;
- recall_<dataset>.png: R@K (K = 1, 5, 10, 50) of text->video, text->video+audio (fused) and
  text->v+a (late fusion) for every evaluated model of the benchmark (strategy at_once), with
  the chance level;
- attention.png (with --model): the main model's attention between query and key modalities,
  per head and for 4 heads as 3x3 matrices (paper Fig. 3), over the caption clips of the
  benchmark whose feature shards are given (its name: --attention-dataset);
- retrieval_grid.png (with --index): for a few captions, the top-5 windows of the search index
  as frame thumbnails, the caption's own window marked (supplement Fig. 1).
Plots with matplotlib's Agg backend (no display)."""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np

from eao.errors import ArgumentParser, BadInput, reading, run
from eao.io.atomic import save_figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TERMS = ["tv", "ta", "va", "t_va", "v_ta", "a_tv"]
TASKS = {
    "t2v": "text → video",
    "t2va": "text → video+audio (fused)",
    "t2v+a": "text → v + a (late fusion)",
}
KS = ["R1", "R5", "R10", "R50"]
SHARD_KINDS = ("video_2d", "video_3d", "audio", "text")  # the attention's shards (FeatureTables)
CLIPS_WINDOW = 21  # logged steps of the clips/s panel's moving median


def moving_median(values: list[float | None], window: int = CLIPS_WINDOW) -> list[float | None]:
    """The median of each value's centred window (`window` values, fewer at the ends; missing
    values left out): the trend of a noisy series, spikes ignored."""
    half, out = window // 2, []
    for i in range(len(values)):
        seen = [v for v in values[max(0, i - half) : i + half + 1] if v is not None]
        out.append(float(np.median(seen)) if seen else None)
    return out


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
    missing = [k for k in ("metrics", "chance", "clips") if k not in result] if isinstance(
        result, dict) else ["metrics"]  # fmt: skip
    if missing or len(Path(path).parts) < 4:  # .../<stage>/<variant>/<dataset>/<strategy>.json
        raise BadInput(f"not a retrieval result (no {', '.join(missing) or 'stage folders'})",
                       path)  # fmt: skip
    return result


def line_style(i: int) -> dict:
    """Ten distinct colours, then the same colours dashed: 11 variants stay told apart (tab20's
    pairs are two shades of one hue)."""
    color = plt.get_cmap("tab10").colors[i % 10]
    return {"color": color, "linestyle": ("-", "--", ":")[i // 10 % 3]}


def training_figure(runs: dict[str, list[dict]], out: str) -> None:
    """Loss terms, lr and throughput per step, one line per variant (its folder's name);
    runs: metrics.jsonl path -> its records (read_metrics)."""
    fig, axes = plt.subplots(3, 3, figsize=(13, 10), sharex=True)
    panels = ["loss", *TERMS, "lr", "clips_per_s"]
    for i, (path, records) in enumerate(sorted(runs.items())):
        if not records:
            continue
        name = Path(path).parent.name
        steps = [r["step"] for r in records]
        for ax, panel in zip(axes.flat, panels, strict=True):
            if panel in TERMS:
                values = [r.get("parts", {}).get(panel) for r in records]
            else:
                values = [r.get(panel) for r in records]
            if panel == "clips_per_s":
                values = moving_median(values)
            if any(v is not None for v in values):
                ax.plot(steps, values, label=name, linewidth=1, **line_style(i))
    for ax, panel in zip(axes.flat, panels, strict=True):
        ax.set_title("total loss" if panel == "loss" else f"loss term {panel}" if panel in TERMS
                     else f"clips/s (moving median, {CLIPS_WINDOW} logged steps)"
                     if panel == "clips_per_s" else panel)  # fmt: skip
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    axes.flat[0].legend(fontsize=7, ncol=2)
    fig.suptitle("Pretraining: the combinatorial loss and its six terms, lr, throughput")
    fig.tight_layout()
    save_figure(fig, out, dpi=100)
    plt.close(fig)


def recall_figures(results: dict[str, dict], out_dir: str) -> list[str]:
    """One figure per benchmark, a row per stage (zero-shot, fine-tuned: different test clips):
    R@K curves of every evaluated model of that stage, its chance level dashed; results: result
    JSON path -> its content (read_result)."""
    runs: dict[str, dict[str, list[tuple[str, dict]]]] = defaultdict(lambda: defaultdict(list))
    for path, result in sorted(results.items()):
        parts = Path(path).parts  # .../retrieval/<stage>/<variant>/<dataset>/<strategy>.json
        stage, variant, dataset = parts[-4], parts[-3], parts[-2]
        runs[dataset][stage].append((variant, result))
    written = []
    for dataset, stages in sorted(runs.items()):
        rows = sorted(stages, key=lambda s: s != "zeroshot")
        fig, axes = plt.subplots(len(rows), len(TASKS), figsize=(5 * len(TASKS), 4 * len(rows)),
                                 sharey=True, squeeze=False)  # fmt: skip
        variants = sorted({v for stage in rows for v, _ in stages[stage]})
        for row, stage in zip(axes, rows, strict=True):
            first = stages[stage][0][1]
            for ax, (task, title) in zip(row, TASKS.items(), strict=True):
                for variant, result in stages[stage]:
                    metrics = result["metrics"].get(task)
                    if metrics:
                        ax.plot(range(len(KS)), [metrics[k] for k in KS], marker="o",
                                label=variant, **line_style(variants.index(variant)))  # fmt: skip
                ax.plot(range(len(KS)), [first["chance"][k] for k in KS], "k--", label="chance")
                ax.set_xticks(range(len(KS)), [k.replace("R", "R@") for k in KS])
                ax.set_title(f"{stage}, {first['clips']} clips: {title}", fontsize=10)
                ax.grid(alpha=0.3)
            row[0].set_ylabel("recall (%)")
            row[0].legend(fontsize=7)
        fig.suptitle(f"{dataset}: text-to-video retrieval (all tokens at once)")
        fig.tight_layout()
        out = os.path.join(out_dir, f"recall_{dataset}.png")
        save_figure(fig, out, dpi=100)
        plt.close(fig)
        written.append(out)
    return written


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


def attention_figure(att: np.ndarray, n_rows: int, dataset: str, out: str) -> None:
    """Paper Fig. 3: `attention`'s shares per head, and 4 heads as 3x3 matrices."""
    names = ["t", "v", "a"]
    pairs = [(q, k) for q in range(3) for k in range(3)]
    fig = plt.figure(figsize=(14, 4.5))
    grid = fig.add_gridspec(2, 6)
    ax = fig.add_subplot(grid[:, :3])
    image = ax.imshow(np.stack([att[:, q, k] for q, k in pairs]), aspect="auto", cmap="viridis")
    ax.set_yticks(range(9), [f"{names[q]}→{names[k]}" for q, k in pairs])
    ax.set_xticks(range(len(att)))
    ax.set_xlabel("head")
    ax.set_title(f"attention share, query → key modality ({n_rows} clips, {len(att)} heads)")
    fig.colorbar(image, ax=ax)
    rng = np.random.default_rng(0)
    for i, head in enumerate(sorted(rng.choice(len(att), min(4, len(att)), replace=False))):
        sub = fig.add_subplot(grid[i // 2, 3 + i % 2])
        sub.imshow(att[head], vmin=0, vmax=1, cmap="viridis")
        sub.set_xticks(range(3), names)
        sub.set_yticks(range(3), names)
        sub.set_title(f"head {head}", fontsize=9)
        for q, k in pairs:
            sub.text(k, q, f"{att[head, q, k]:.2f}", ha="center", va="center", color="w",
                     fontsize=8)  # fmt: skip
    fig.suptitle(f"{dataset}: average attention of the fusion block (rows: query, columns: key)")
    fig.tight_layout()
    save_figure(fig, out, dpi=100)
    plt.close(fig)


def grid_inputs(index: str, captions: str | None) -> tuple:
    """What retrieval_grid draws from: the index, its model, the indexed videos' captions and
    their query embeddings (BadInput naming a file that is not what it should be)."""
    from eao.checkpoints import load_model
    from eao.evaluate.search import embed_queries, read_index
    from eao.io.parquet import read_table

    if not captions:
        raise BadInput("--index needs --captions (the index dataset's captions table)")
    table, meta = read_index(index)
    model, _ = load_model(Path(index).parent / meta["model"])
    indexed = set(table["video_id"].to_pylist())
    columns = ["video_id", "start_s", "end_s", "text"]
    rows = [c for c in read_table(captions, columns, kind="captions").to_pylist()
            if c["video_id"] in indexed]  # fmt: skip
    queries = embed_queries([c["text"] for c in rows], meta, model, "cpu", skip_unknown=True)
    if np.isnan(queries).any(axis=1).all():  # also no rows at all
        raise BadInput("no caption of an indexed video has a word the text encoder knows",
                       captions)  # fmt: skip
    return table, rows, queries


def retrieval_grid(inputs: tuple, out: str, n_queries: int = 4, k: int = 5) -> None:
    """Supplement Fig. 1: a row per caption, its top-k index windows as thumbnails (middle
    frame), the window of the caption's own video overlapping the caption framed in green;
    inputs: grid_inputs'."""
    from eao.evaluate.search import own_window_hits, search
    from eao.report.analysis import thumbnail

    table, rows, queries = inputs
    hits, n, chance = own_window_hits(table, rows, queries, k)
    # The picks are spread over the captions with a word the text encoder knows.
    known = [(c, q) for c, q in zip(rows, queries, strict=True) if not np.isnan(q).any()]
    spread = np.linspace(0, len(known) - 1, min(n_queries, len(known))).astype(int)
    picks = [known[i] for i in spread]
    fig, axes = plt.subplots(len(picks), k, figsize=(2.6 * k, 2.2 * len(picks)), squeeze=False)
    for row_axes, (cap, query) in zip(axes, picks, strict=True):
        ranked = search(table, query, k)
        for rank, (ax, hit) in enumerate(zip(row_axes, ranked, strict=False), 1):
            frame = thumbnail(hit["path"], (hit["start_s"] + hit["end_s"]) / 2)
            ax.imshow(frame if frame is not None else np.full((90, 160, 3), 128, np.uint8))
            right = (hit["video_id"] == cap["video_id"] and hit["start_s"] < cap["end_s"]
                     and hit["end_s"] > cap["start_s"])  # fmt: skip
            for spine in ax.spines.values():
                spine.set_edgecolor("limegreen" if right else "lightgrey")
                spine.set_linewidth(5 if right else 1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{rank}. {hit['video_id']} {hit['start_s']:.0f}-{hit['end_s']:.0f}s "
                         f"({hit['score']:.2f})", fontsize=7)  # fmt: skip
        row_axes[0].set_ylabel(f'"{cap["text"][:40]}"', fontsize=8)
    fig.suptitle(f"Text-to-video search: top-{k} windows per caption (green: the caption's own)\n"
                 f"Over all {n} captions with a known word, the own window is in the top {k} "
                 f"for {hits} ({100 * hits / max(n, 1):.0f} %; "
                 f"chance {100 * chance:.0f} %)")  # fmt: skip
    fig.tight_layout()
    save_figure(fig, out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="eao report", description=__doc__.split("\n")[0])
    ap.add_argument("--metrics", nargs="+", required=True, help="metrics.jsonl of pretraining")
    ap.add_argument("--retrieval", nargs="+", required=True, help="retrieval result JSONs")
    ap.add_argument("--datasets", nargs="*", help="write recall_<d>.png for exactly these")
    ap.add_argument("--model", help="the main model: draw attention.png")
    for kind in SHARD_KINDS:
        flag = "--" + kind.replace("_", "-")
        ap.add_argument(flag, nargs="*", default=[], help="attention: the model's shards")
    ap.add_argument("--attention-dataset", default="youcook2", help="their benchmark's name")
    ap.add_argument("--video-tokens", type=int, default=12)
    ap.add_argument("--audio-frames", type=int, default=768)
    ap.add_argument("--max-words", type=int, default=20)
    ap.add_argument("--index", help="a search index: draw retrieval_grid.png")
    ap.add_argument("--captions", help="the index dataset's captions table (the queries)")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args(argv)
    # Every input is read before the first figure is written: a bad one leaves no figure.
    runs = {path: read_metrics(path) for path in args.metrics}
    results = {path: read_result(path) for path in args.retrieval}
    evaluated = {Path(path).parts[-2] for path in results}
    missing = [d for d in args.datasets or [] if d not in evaluated]
    if missing:
        raise BadInput(f"no retrieval results for {', '.join(missing)}", "--datasets")
    att = None
    if args.model:
        shards = {kind: getattr(args, kind) for kind in SHARD_KINDS}
        att = attention(args.model, shards, args.video_tokens, args.audio_frames, args.max_words)
    grid = grid_inputs(args.index, args.captions) if args.index else None
    os.makedirs(args.out_dir, exist_ok=True)
    training_figure(runs, os.path.join(args.out_dir, "training.png"))
    written = recall_figures(results, args.out_dir)
    if att is not None:
        written.append(os.path.join(args.out_dir, "attention.png"))
        attention_figure(*att, args.attention_dataset, written[-1])
    if grid is not None:
        written.append(os.path.join(args.out_dir, "retrieval_grid.png"))
        retrieval_grid(grid, written[-1])
    print(f"report figures: training.png, {', '.join(os.path.basename(w) for w in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao report"))
