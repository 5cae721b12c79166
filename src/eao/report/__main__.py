"""`python -m eao.report`: the report's figures from the run's results (rule report_figures).

    python -m eao.report --metrics results/pretrain/*/metrics.jsonl \
        --retrieval results/evaluate/retrieval/*/*/*/at_once.json --out-dir results/report

- training.png: per pretrained variant, the total loss and each of the six loss terms, the
  learning rate and the throughput (clips/s) against the step;
- recall_<dataset>.png: R@K (K = 1, 5, 10, 50) of text->video, text->video+audio (fused) and
  text->v+a (late fusion) for every evaluated model of the benchmark (strategy at_once), with
  the chance level.
Plots with matplotlib's Agg backend (no display)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TERMS = ["tv", "ta", "va", "t_va", "v_ta", "a_tv"]
TASKS = {
    "t2v": "text → video",
    "t2va": "text → video+audio (fused)",
    "t2v+a": "text → v + a (late fusion)",
}
KS = ["R1", "R5", "R10", "R50"]


def read_metrics(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def training_figure(paths: list[str], out: str) -> None:
    """Loss terms, lr and throughput per step, one line per variant (its folder's name)."""
    fig, axes = plt.subplots(3, 3, figsize=(13, 10), sharex=True)
    panels = ["loss", *TERMS, "lr", "clips_per_s"]
    for path in sorted(paths):
        records = read_metrics(path)
        if not records:
            continue
        name = Path(path).parent.name
        steps = [r["step"] for r in records]
        for ax, panel in zip(axes.flat, panels, strict=True):
            if panel in TERMS:
                values = [r.get("parts", {}).get(panel) for r in records]
            else:
                values = [r.get(panel) for r in records]
            if any(v is not None for v in values):
                ax.plot(steps, values, label=name, linewidth=1)
    for ax, panel in zip(axes.flat, panels, strict=True):
        ax.set_title("total loss" if panel == "loss" else f"loss term {panel}" if panel in TERMS
                     else panel)  # fmt: skip
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    axes.flat[0].legend(fontsize=7, ncol=2)
    fig.suptitle("Pretraining: the combinatorial loss and its six terms, lr, throughput")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def recall_figures(paths: list[str], out_dir: str) -> list[str]:
    """One figure per benchmark, a row per stage (zero-shot, fine-tuned: different test clips):
    R@K curves of every evaluated model of that stage, its chance level dashed."""
    runs: dict[str, dict[str, list[tuple[str, dict]]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(paths):
        parts = Path(path).parts  # .../retrieval/<stage>/<variant>/<dataset>/<strategy>.json
        stage, variant, dataset = parts[-4], parts[-3], parts[-2]
        runs[dataset][stage].append((variant, json.loads(Path(path).read_text())))
    colors = plt.get_cmap("tab20").colors
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
                        color = colors[variants.index(variant) % len(colors)]
                        ax.plot(range(len(KS)), [metrics[k] for k in KS], marker="o",
                                color=color, label=variant)  # fmt: skip
                ax.plot(range(len(KS)), [first["chance"][k] for k in KS], "k--", label="chance")
                ax.set_xticks(range(len(KS)), [k.replace("R", "R@") for k in KS])
                ax.set_title(f"{stage}, {first['clips']} clips: {title}", fontsize=10)
                ax.grid(alpha=0.3)
            row[0].set_ylabel("recall (%)")
            row[0].legend(fontsize=7)
        fig.suptitle(f"{dataset}: text-to-video retrieval (all tokens at once)")
        fig.tight_layout()
        out = os.path.join(out_dir, f"recall_{dataset}.png")
        fig.savefig(out, dpi=100)
        plt.close(fig)
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="eao report", description=__doc__.split("\n")[0])
    ap.add_argument("--metrics", nargs="+", required=True, help="metrics.jsonl of pretraining")
    ap.add_argument("--retrieval", nargs="+", required=True, help="retrieval result JSONs")
    ap.add_argument("--datasets", nargs="*", help="write recall_<d>.png for exactly these")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    training_figure(args.metrics, os.path.join(args.out_dir, "training.png"))
    written = recall_figures(args.retrieval, args.out_dir)
    missing = [d for d in args.datasets or [] if os.path.join(args.out_dir, f"recall_{d}.png")
               not in written]  # fmt: skip
    if missing:
        print(f"eao report: no retrieval results for {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"report figures: training.png, {', '.join(os.path.basename(w) for w in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
