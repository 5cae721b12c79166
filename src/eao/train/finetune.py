"""`eao finetune`: fine-tune a pretrained model on a retrieval benchmark's training split (rule
finetune; docs/benchmarks.md).

    python -m eao.train.finetune --init results/pretrain/main/model.pt --clips segments \
        --manifest results/manifest/youcook2/videos.parquet --split training \
        --video-2d ... --text ... --train-config '{"epochs": 5, "lr": 1e-5, ...}' --out-dir D

The paper's protocol: model weights only from the pretrained checkpoint (a fresh optimizer),
all six loss weights 1, Adam with exponential decay 0.9 per epoch, the model in eval mode while
training (`use_eval_mode_always`), the last epoch kept. YouCook2: 5 epochs, lr 1e-5, batch 256,
72 tokens / 4608 frames; MSR-VTT: 25 epochs, lr 5e-5, batch 128, 48 / 3072, a random caption of
the video each time. The same Trainer as pretraining: checkpoints (OUT_DIR/checkpoints.partial
while unfinished, then OUT_DIR/checkpoints), resume, metrics.jsonl and TensorBoard rebuilt from
the checkpoint on a resume (eao.train.loop, eao.train.metrics).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

import torch

from eao.checkpoints import checkpoint_source, load_model
from eao.data.corpus import FeatureTables
from eao.data.pairs import CLIP_KINDS, FinetuneDataset
from eao.errors import ArgumentParser, BadInput, json_object, run
from eao.ingest.manifest import split_videos
from eao.train.config import TrainConfig, from_dict
from eao.train.distributed import start_process
from eao.train.loop import add_resume_dir, run_to_end, start_trainer
from eao.train.loss import PAIRS

log = logging.getLogger("eao.finetune")

# Fine-tuning defaults that differ from pretraining (the rest are TrainConfig's).
FINETUNE_DEFAULTS = {"n_clips": 1, "eval_mode": True, "loss_weights": dict.fromkeys(PAIRS, 1.0)}


def finetune_config(values: dict) -> TrainConfig:
    cfg = from_dict(TrainConfig, {**FINETUNE_DEFAULTS, **values})
    if cfg.n_clips != 1:
        raise BadInput("fine-tuning items are single clips: n_clips must be 1", "--train-config")
    return cfg


def check_dims(model: torch.nn.Module, dims: dict[str, int], init: str) -> None:
    """The benchmark's features must have the widths the model was pretrained on."""
    want = {"video": model.cfg.video_dim, "text": model.cfg.text_dim}
    wrong = {k: (dims[k], v) for k, v in want.items() if dims.get(k) != v}
    if wrong:
        detail = ", ".join(f"{k}: features {a}-d, model {b}-d" for k, (a, b) in wrong.items())
        raise BadInput(
            f"the benchmark's features do not fit the model ({detail}); "
            "fine-tune with the backbones the model was pretrained on",
            init,
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = ArgumentParser(
        prog="eao finetune", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--init", required=True, help="the pretrained model (model.pt)")
    ap.add_argument("--clips", choices=CLIP_KINDS, required=True)
    ap.add_argument("--manifest", required=True, help="the benchmark's manifest (for the split)")
    ap.add_argument("--split", help="train on this split's videos (e.g. training, train)")
    ap.add_argument("--video-2d", nargs="*", default=[])
    ap.add_argument("--video-3d", nargs="*", default=[])
    ap.add_argument("--audio", nargs="*", default=[])
    ap.add_argument("--text", nargs="+", required=True)
    ap.add_argument(
        "--train-config", default="{}", type=json_object, help="JSON object of TrainConfig keys"
    )
    ap.add_argument(
        "--all-clips",
        action="store_true",
        help="keep clips without audio (the paper kept only clips with audio)",
    )
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--resume", default="auto", help="auto | no | a checkpoint path")
    add_resume_dir(ap)
    ap.add_argument("--stop-after-steps", type=int, help="stop (as if killed) after N steps")
    ap.add_argument("--out-dir", required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device, world = start_process(args.device, args.threads)
    cfg = finetune_config(args.train_config)
    out_dir = Path(args.out_dir)
    # in eval mode; Trainer.step sets the mode of every step (cfg.eval_mode: eval, as the paper)
    model, ckpt = load_model(args.init)  # first: a bad --init is named before the shards are read
    tables = FeatureTables(
        video_2d=args.video_2d, video_3d=args.video_3d, audio=args.audio, text=args.text
    )
    dataset = FinetuneDataset(
        tables,
        args.clips,
        split_videos(args.manifest, args.split),
        cfg.video_tokens,
        cfg.audio_frames,
        cfg.max_words,
        cfg.seed,
        require_audio=not args.all_clips,
    )
    if len(dataset) < cfg.batch_videos:
        # A small benchmark (the demo's) still trains: one batch of every clip per step.
        log.warning("%d clips < batch %d: the batch is all clips", len(dataset), cfg.batch_videos)
        cfg = replace(cfg, batch_videos=len(dataset) - len(dataset) % world.size)
    check_dims(model, dataset.dims(), args.init)
    # the metrics history starts here: the pretrained model's own is not fine-tuning's
    trainer = start_trainer(args, model, dataset, cfg, device, world)
    trainer.source = checkpoint_source(ckpt, finetuned=True)  # an imported main's file, sha256
    log.info(
        "fine-tuning %s (pretrained %s steps) on %d clips, batch %d, %d epochs, lr %g",
        args.init,
        ckpt.get("step"),
        len(dataset),
        cfg.batch_videos,
        cfg.epochs,
        cfg.lr,
    )
    run_to_end(trainer, out_dir, args.stop_after_steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, prog="eao finetune"))
