"""`eao train`: pretrain the fusion model on a corpus's feature shards (rule pretrain).

    python -m eao.train.loop --model-config '{"width": 256, ...}' --train-config '{...}' \
        --video-2d results/features/resnet152/howto/shard-*.parquet ... --out-dir results/pretrain

One process per device; under torchrun every rank takes its slice of each global batch and the
loss is computed over the gathered global batch (eao.train.distributed). Checkpoints: every epoch
and every `checkpoint_every_steps` steps to last.pt in the resume folder (--resume-dir, default
OUT_DIR/checkpoints.partial; epoch ends are also kept as epoch-NNN.pt); a run finds last.pt and
continues from it (`--resume auto`). The finished model is OUT_DIR/model.pt, and the resume folder
becomes OUT_DIR/checkpoints (without last.pt). Metrics are JSON lines in OUT_DIR/metrics.jsonl and
TensorBoard events in OUT_DIR/tensorboard, both rewritten from the checkpoint on a resume and
replaced on a fresh start (eao.train.metrics).
"""

from __future__ import annotations

import argparse
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from torch.utils.data import Dataset

from eao.data.clips import ClipDataset
from eao.data.corpus import FeatureTables
from eao.errors import ArgumentParser, BadInput, json_object, run
from eao.model import EverythingAtOnce
from eao.train import state
from eao.train.config import TrainConfig, from_dict
from eao.train.distributed import World, start_process
from eao.train.trainer import Trainer, TrainingDiverged, build_model, epoch_batches

# The training loop's names, for `from eao.train import loop` callers (loop.Trainer, ...).
__all__ = [
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "epoch_batches",
    "from_dict",
    "main",
    "parse_args",
    "resume_from",
    "run_to_end",
    "start_trainer",
]

log = logging.getLogger("eao.train")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = ArgumentParser(
        prog="eao train", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument(
        "--model-config",
        default="{}",
        type=json_object,
        help="JSON object of ModelConfig keys (architecture)",
    )
    ap.add_argument(
        "--train-config", default="{}", type=json_object, help="JSON object of TrainConfig keys"
    )
    ap.add_argument(
        "--video-2d", nargs="*", default=[], help="2D feature shards (a backbone of kind 2d)"
    )
    ap.add_argument(
        "--video-3d", nargs="*", default=[], help="3D feature shards (a backbone of kind 3d)"
    )
    ap.add_argument("--audio", nargs="*", default=[], help="log-mel shards")
    ap.add_argument("--text", nargs="*", default=[], help="text feature shards of the captions")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument(
        "--resume",
        default="auto",
        help="auto: continue from RESUME_DIR/last.pt if "
        "its configs match; no: start over; or a checkpoint path",
    )
    add_resume_dir(ap)
    ap.add_argument(
        "--stop-after-steps", type=int, help="stop (as if killed) after this many steps"
    )
    ap.add_argument("--out-dir", required=True)
    return ap.parse_args(argv)


def add_resume_dir(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--resume-dir",
        help="where the unfinished run keeps its checkpoints (default OUT_DIR/checkpoints.partial; "
        "OUT_DIR/checkpoints when the run is finished)",
    )


def resume_dir(args: argparse.Namespace) -> Path:
    return Path(args.resume_dir or Path(args.out_dir) / state.RESUME_DIR)


def resume_from(
    args: argparse.Namespace, folder: Path, model_cfg: dict, train_cfg: dict
) -> dict | None:
    """The checkpoint to continue from (--resume; `folder`/last.pt for auto), or None."""
    if args.resume == "no":
        return None
    path = folder / "last.pt" if args.resume == "auto" else Path(args.resume)
    if not path.exists():
        if args.resume != "auto":
            raise BadInput("no such checkpoint (--resume)", path)
        return None
    ckpt = state.load(path)
    mismatch = [
        name
        for name, want in (("model", model_cfg), ("train", train_cfg))
        if ckpt[f"{name}_config"] != want
    ]
    if mismatch and args.resume == "auto":
        log.warning(
            "%s was written with a different %s config: starting over", path, " and ".join(mismatch)
        )
        return None
    if "model" in mismatch:  # its weights cannot be loaded into this architecture
        raise BadInput("written for another model config than --model-config's", path)
    log.info(
        "resuming from %s at epoch %d, batch %d (step %d)",
        path,
        ckpt["epoch"] + 1,
        ckpt["batch"],
        ckpt["step"],
    )
    return ckpt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device, world = start_process(args.device, args.threads)
    cfg = from_dict(TrainConfig, args.train_config)
    out_dir = Path(args.out_dir)
    tables = FeatureTables(
        video_2d=args.video_2d, video_3d=args.video_3d, audio=args.audio, text=args.text
    )
    dataset = ClipDataset(
        tables,
        n_clips=cfg.n_clips,
        min_time=cfg.min_time,
        max_words=cfg.max_words,
        n_video_tokens=cfg.video_tokens,
        audio_frames=cfg.audio_frames,
        audio_shift=cfg.audio_shift,
        seed=cfg.seed,
    )
    torch.manual_seed(cfg.seed)  # same initial weights on every rank (DDP also broadcasts them)
    model = build_model(args.model_config, dataset)
    trainer = start_trainer(args, model, dataset, cfg, device, world)
    log.info(
        "model: %s parameters, %s; %d videos, %d clips per step on %d rank(s), device %s",
        f"{sum(p.numel() for p in model.parameters()):,}",
        model.cfg,
        len(dataset),
        cfg.batch_videos * cfg.n_clips,
        world.size,
        device,
    )
    run_to_end(trainer, out_dir, args.stop_after_steps)
    return 0


def start_trainer(
    args: argparse.Namespace,
    model: EverythingAtOnce,
    dataset: Dataset,
    cfg: TrainConfig,
    device: str,
    world: World,
) -> Trainer:
    """The Trainer of --out-dir, restored from the resume folder's last.pt when it matches
    (--resume); shared by pretraining and fine-tuning. A fresh start moves the resume folder to
    <folder>.previous (replacing an older one): epoch files of another run must not end up among
    this run's checkpoints, and a run restarted with another config (a lower lr after a NaN)
    must not lose the checkpoint it may want to go back to."""
    out_dir, folder = Path(args.out_dir), resume_dir(args)
    ckpt = resume_from(args, folder, asdict(model.cfg), asdict(cfg))
    # every input read before the output folder is made: a bad one leaves nothing behind
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(model, dataset, cfg, out_dir, device, world, ckpt_dir=folder)
    if ckpt is not None:
        trainer.restore(ckpt)
    elif world.is_main and folder.exists():
        # after Trainer(): DDP's first broadcast waits for every rank, so none still reads it
        previous = folder.with_name(f"{folder.name}.previous")
        shutil.rmtree(previous, ignore_errors=True)
        folder.rename(previous)
        log.warning("fresh start: the unfinished run's checkpoints moved to %s", previous)
    return trainer


def run_to_end(trainer: Trainer, out_dir: Path, stop_after_steps: int | None = None) -> None:
    """Train, then write OUT_DIR/model.pt and OUT_DIR/checkpoints (main rank) and leave the
    process group; shared by pretraining and fine-tuning."""
    finished = trainer.run(stop_after_steps=stop_after_steps)
    trainer.metrics.close()
    if finished and trainer.world.is_main:
        trainer.checkpoint(out_dir / "model.pt", history=False)
        state.keep_checkpoints(trainer.ckpt_dir, out_dir / "checkpoints")
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(run(main, prog="eao train"))
