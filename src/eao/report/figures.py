"""The report's figures (rule report_figures, `python -m eao.report`), drawn with matplotlib's Agg
backend (no display) from what eao.report.inputs read.

- training.png: per pretrained variant, the total loss and each of the six loss terms, the
  learning rate and the throughput (clips/s, a moving median over CLIPS_WINDOW logged steps:
  the raw rate is noise) against the step;
- recall_<dataset>.png: R@K (K = 1, 5, 10, 50) of text->video, text->video+audio (fused) and
  text->v+a (late fusion) for every evaluated model of the benchmark (strategy at_once), with
  the chance level;
- attention.png: the main model's attention between query and key modalities, per head and for
  4 heads as 3x3 matrices (paper Fig. 3);
- retrieval_grid.png: for a few captions, the top-5 windows of the search index as frame
  thumbnails, the caption's own window marked (supplement Fig. 1).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np

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
CLIPS_WINDOW = 21  # logged steps of the clips/s panel's moving median


def write_figures(
    out_dir: str,
    runs: dict[str, list[dict]],
    results: dict[str, dict],
    attention: tuple[np.ndarray, int] | None = None,
    attention_dataset: str = "youcook2",
    grid: tuple | None = None,
) -> list[str]:
    """training.png, a recall figure per benchmark, and attention.png / retrieval_grid.png when
    their inputs are given (eao.report.inputs); the paths written after training.png."""
    os.makedirs(out_dir, exist_ok=True)
    training_figure(runs, os.path.join(out_dir, "training.png"))
    written = recall_figures(results, out_dir)
    if attention is not None:
        written.append(os.path.join(out_dir, "attention.png"))
        attention_figure(*attention, attention_dataset, written[-1])
    if grid is not None:
        written.append(os.path.join(out_dir, "retrieval_grid.png"))
        retrieval_grid(grid, written[-1])
    return written


def moving_median(values: list[float | None], window: int = CLIPS_WINDOW) -> list[float | None]:
    """The median of each value's centred window (`window` values, fewer at the ends; missing
    values left out): the trend of a noisy series, spikes ignored."""
    half, out = window // 2, []
    for i in range(len(values)):
        seen = [v for v in values[max(0, i - half) : i + half + 1] if v is not None]
        out.append(float(np.median(seen)) if seen else None)
    return out


def line_style(i: int) -> dict:
    """Ten distinct colours, then the same colours dashed: 11 variants stay told apart (tab20's
    pairs are two shades of one hue)."""
    color = plt.get_cmap("tab10").colors[i % 10]
    return {"color": color, "linestyle": ("-", "--", ":")[i // 10 % 3]}


# -- training.png ---------------------------------------------------------------------------------
def training_figure(runs: dict[str, list[dict]], out: str) -> None:
    """Loss terms, lr and throughput per step, one line per variant (its folder's name);
    runs: metrics.jsonl path -> its records (eao.report.inputs.read_metrics)."""
    fig, axes = plt.subplots(3, 3, figsize=(13, 10), sharex=True)
    panels = ["loss", *TERMS, "lr", "clips_per_s"]
    for i, (path, records) in enumerate(sorted(runs.items())):
        if not records:
            continue
        name = Path(path).parent.name
        steps = [r["step"] for r in records]
        for ax, panel in zip(axes.flat, panels, strict=True):
            values = panel_values(records, panel)
            if any(v is not None for v in values):
                ax.plot(steps, values, label=name, linewidth=1, **line_style(i))
    for ax, panel in zip(axes.flat, panels, strict=True):
        ax.set_title(panel_title(panel))
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    axes.flat[0].legend(fontsize=7, ncol=2)
    fig.suptitle("Pretraining: the combinatorial loss and its six terms, lr, throughput")
    fig.tight_layout()
    save_figure(fig, out, dpi=100)
    plt.close(fig)


def panel_values(records: list[dict], panel: str) -> list[float | None]:
    """A panel's value at each logged step (None where not logged): a loss term from the
    record's parts, the throughput as its moving median."""
    if panel in TERMS:
        return [r.get("parts", {}).get(panel) for r in records]
    values = [r.get(panel) for r in records]
    return moving_median(values) if panel == "clips_per_s" else values


def panel_title(panel: str) -> str:
    if panel == "loss":
        return "total loss"
    if panel in TERMS:
        return f"loss term {panel}"
    if panel == "clips_per_s":
        return f"clips/s (moving median, {CLIPS_WINDOW} logged steps)"
    return panel


# -- recall_<dataset>.png -------------------------------------------------------------------------
def recall_figures(results: dict[str, dict], out_dir: str) -> list[str]:
    """One figure per benchmark, a row per stage (zero-shot, fine-tuned: different test clips):
    R@K curves of every evaluated model of that stage, its chance level dashed; results: result
    JSON path -> its content (eao.report.inputs.read_result). The paths written."""
    runs: dict[str, dict[str, list[tuple[str, dict]]]] = defaultdict(lambda: defaultdict(list))
    for path, result in sorted(results.items()):
        parts = Path(path).parts  # .../retrieval/<stage>/<variant>/<dataset>/<strategy>.json
        stage, variant, dataset = parts[-4], parts[-3], parts[-2]
        runs[dataset][stage].append((variant, result))
    written = []
    for dataset, stages in sorted(runs.items()):
        written.append(os.path.join(out_dir, f"recall_{dataset}.png"))
        recall_figure(dataset, stages, written[-1])
    return written


def recall_figure(dataset: str, stages: dict[str, list[tuple[str, dict]]], out: str) -> None:
    """The recall figure of one benchmark; stages: stage -> (variant, result) of its models."""
    rows = sorted(stages, key=lambda s: s != "zeroshot")
    fig, axes = plt.subplots(
        len(rows), len(TASKS), figsize=(5 * len(TASKS), 4 * len(rows)), sharey=True, squeeze=False
    )
    variants = sorted({v for stage in rows for v, _ in stages[stage]})
    for row, stage in zip(axes, rows, strict=True):
        first = stages[stage][0][1]
        for ax, (task, title) in zip(row, TASKS.items(), strict=True):
            for variant, result in stages[stage]:
                metrics = result["metrics"].get(task)
                if metrics:
                    style = line_style(variants.index(variant))
                    ax.plot(
                        range(len(KS)), [metrics[k] for k in KS], marker="o", label=variant, **style
                    )
            ax.plot(range(len(KS)), [first["chance"][k] for k in KS], "k--", label="chance")
            ax.set_xticks(range(len(KS)), [k.replace("R", "R@") for k in KS])
            ax.set_title(f"{stage}, {first['clips']} clips: {title}", fontsize=10)
            ax.grid(alpha=0.3)
        row[0].set_ylabel("recall (%)")
        row[0].legend(fontsize=7)
    fig.suptitle(f"{dataset}: text-to-video retrieval (all tokens at once)")
    fig.tight_layout()
    save_figure(fig, out, dpi=100)
    plt.close(fig)


# -- attention.png --------------------------------------------------------------------------------
def attention_figure(att: np.ndarray, n_rows: int, dataset: str, out: str) -> None:
    """Paper Fig. 3: the attention shares per head (eao.report.inputs.attention), and 4 heads
    as 3x3 matrices."""
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
            value = f"{att[head, q, k]:.2f}"
            sub.text(k, q, value, ha="center", va="center", color="w", fontsize=8)
    fig.suptitle(f"{dataset}: average attention of the fusion block (rows: query, columns: key)")
    fig.tight_layout()
    save_figure(fig, out, dpi=100)
    plt.close(fig)


# -- retrieval_grid.png ---------------------------------------------------------------------------
def retrieval_grid(inputs: tuple, out: str, n_queries: int = 4, k: int = 5) -> None:
    """Supplement Fig. 1: a row per caption, its top-k index windows as thumbnails (middle
    frame), the window of the caption's own video overlapping the caption framed in green;
    inputs: eao.report.inputs.grid_inputs'."""
    from eao.evaluate.search import own_window_hits, search

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
            draw_hit(ax, rank, hit, cap)
        row_axes[0].set_ylabel(f'"{cap["text"][:40]}"', fontsize=8)
    fig.suptitle(
        f"Text-to-video search: top-{k} windows per caption (green: the caption's own)\n"
        f"Over all {n} captions with a known word, the own window is in the top {k} "
        f"for {hits} ({100 * hits / max(n, 1):.0f} %; chance {100 * chance:.0f} %)"
    )
    fig.tight_layout()
    save_figure(fig, out, dpi=90)
    plt.close(fig)


def draw_hit(ax: plt.Axes, rank: int, hit: dict, caption: dict) -> None:
    """One window of the grid: its thumbnail (grey when the video cannot be decoded), framed
    green when it is the caption's own (same video, overlapping the caption's span)."""
    from eao.report.analysis import thumbnail

    frame = thumbnail(hit["path"], (hit["start_s"] + hit["end_s"]) / 2)
    ax.imshow(frame if frame is not None else np.full((90, 160, 3), 128, np.uint8))
    right = (
        hit["video_id"] == caption["video_id"]
        and hit["start_s"] < caption["end_s"]
        and hit["end_s"] > caption["start_s"]
    )
    for spine in ax.spines.values():
        spine.set_edgecolor("limegreen" if right else "lightgrey")
        spine.set_linewidth(5 if right else 1)
    ax.set_xticks([])
    ax.set_yticks([])
    title = f"{rank}. {hit['video_id']} {hit['start_s']:.0f}-{hit['end_s']:.0f}s "
    ax.set_title(title + f"({hit['score']:.2f})", fontsize=7)
