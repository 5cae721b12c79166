"""The training loop: Trainer (model, optimizer, data and position; one step, gradient
accumulation, checkpoints, an epoch's batches); its metrics are eao.train.metrics. The command
line that builds a Trainer is eao.train.loop (pretraining) and eao.train.finetune."""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from eao.data.clips import ClipDataset, collate_clips, locality_order
from eao.model import EverythingAtOnce, ModelConfig
from eao.progress import progress
from eao.train import state
from eao.train.config import TrainConfig, from_dict
from eao.train.distributed import World, gather_outputs
from eao.train.loss import combinatorial_loss
from eao.train.metrics import MetricsLog
from eao.train.optim import make_optimizer

log = logging.getLogger("eao.train")


def epoch_batches(
    n_items: int, cfg: TrainConfig, epoch: int, world: World, groups: np.ndarray | None = None
) -> list[list[tuple]]:
    """This rank's batches of (epoch, video index) keys for one epoch: a seeded order of the
    videos (cfg.order; "locality" needs each video's row group, `groups`) cut into global
    batches (the last partial batch dropped), each split evenly over the ranks."""
    if cfg.batch_videos % world.size:
        raise ValueError(f"batch_videos {cfg.batch_videos} is not divisible by {world.size} ranks")
    if n_items < cfg.batch_videos:
        raise ValueError(
            f"the corpus has {n_items} usable videos, fewer than one batch "
            f"(batch_videos={cfg.batch_videos})"
        )
    if cfg.order == "locality":
        if groups is None:
            raise ValueError("order 'locality' needs the videos' row groups")
        order = locality_order(groups, cfg.seed, epoch)
    elif cfg.order == "random":
        order = np.random.default_rng([cfg.seed, epoch, 1]).permutation(n_items)
    else:
        raise ValueError(f"unknown order {cfg.order!r}; expected 'random' or 'locality'")
    per_rank = cfg.batch_videos // world.size
    batches = []
    for b in range(n_items // cfg.batch_videos):
        chunk = order[b * cfg.batch_videos : (b + 1) * cfg.batch_videos]
        mine = chunk[world.rank * per_rank : (world.rank + 1) * per_rank]
        batches.append([(epoch, int(i)) for i in mine])
    return batches


def build_model(model_cfg: dict, dataset: ClipDataset) -> EverythingAtOnce:
    """The model for the dataset's feature dimensions (the config gives the architecture)."""
    dims = dataset.dims()
    cfg = from_dict(
        ModelConfig, {**model_cfg, "video_dim": dims["video"], "text_dim": dims["text"]}
    )
    return EverythingAtOnce(cfg)


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    if not device.startswith("cuda") or precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def to_device(batch: dict[str, torch.Tensor], device: str) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def split_batch(batch: dict[str, torch.Tensor], n: int) -> list[dict[str, torch.Tensor]]:
    """n micro-batches of consecutive clips (the rows of every tensor split alike)."""
    parts = {k: v.tensor_split(n) for k, v in batch.items()}
    return [{k: p[i] for k, p in parts.items()} for i in range(n)]


class TrainingDiverged(RuntimeError):
    """A non-finite loss: training stops before the update, naming the step, the batch's videos
    and the last good checkpoint (resume from it with a lower lr, or drop the videos)."""


class Trainer:
    """One training run: model, optimizer, data and position; `run()` trains to the end."""

    def __init__(
        self,
        model: EverythingAtOnce,
        dataset: Dataset,
        cfg: TrainConfig,
        out_dir: Path,
        device: str = "cpu",
        world: World | None = None,
        ckpt_dir: Path | None = None,
    ):
        world = world or World()
        self.cfg, self.dataset, self.out_dir = cfg, dataset, out_dir
        # last.pt and epoch-NNN.pt while the run is unfinished (eao.train.loop: --resume-dir)
        self.ckpt_dir = ckpt_dir or out_dir / state.RESUME_DIR
        self.device, self.world = device, world
        self.model = model.to(device)
        self.module = model  # the unwrapped model: its state_dict has no `module.` prefix
        if world.size > 1:
            ids = [world.local_rank] if device.startswith("cuda") else None
            # Some parameters get no gradient in a step: the checkpoint-compatible dead modules
            # (fusion.norm, davenet.batchnorm1) always, the masking token when no sample of the
            # rank has an empty modality. DDP must not wait for them.
            self.model = DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=True
            )
        self.opt = make_optimizer(self.model.parameters(), cfg.lr)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=cfg.lr_gamma)
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=device.startswith("cuda") and cfg.precision == "fp16"
        )
        self.pos = state.Position()
        self.metrics = MetricsLog(out_dir, world.is_main)
        self.last_checkpoint: tuple[Path, int] | None = None
        # where the starting weights come from when not from our pretraining (an imported
        # checkpoint, eao.checkpoints.checkpoint_source): recorded in every checkpoint
        self.source: dict | None = None

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint(
        self, path: Path, train_config: dict | None = None, history: bool = True
    ) -> None:
        """The whole training state at `path`; with `history`, also the metrics logged so far,
        which a run resumed from it needs (the finished model.pt goes without: nothing resumes
        from it, and its bytes stay free of wall-clock figures)."""
        self.last_checkpoint = (path, self.pos.step)
        if not self.world.is_main:
            return
        extra = {"history": self.metrics.history} if history else {}
        if self.source:
            extra["source"] = self.source
        state.save(
            path,
            model=self.module.state_dict(),
            model_config=asdict(self.module.cfg),
            train_config=train_config or asdict(self.cfg),
            optimizer=self.opt.state_dict(),
            scheduler=self.sched.state_dict(),
            scaler=self.scaler.state_dict(),
            rng=state.rng_state(),
            epoch=self.pos.epoch,
            batch=self.pos.batch,
            step=self.pos.step,
            world_size=self.world.size,
            **extra,
        )

    def restore(self, ckpt: dict) -> None:
        self.module.load_state_dict(ckpt["model"], strict=True)
        self.opt.load_state_dict(ckpt["optimizer"])
        for group in self.opt.param_groups:  # a checkpoint of before make_optimizer: unfused
            group.update(fused=True, foreach=None)
        self.sched.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        state.set_rng_state(ckpt["rng"])
        self.pos = state.Position(ckpt["epoch"], ckpt["batch"], ckpt["step"])
        self.metrics.resume(ckpt.get("history"), ckpt["step"])

    # -- training ------------------------------------------------------------------------------
    def loader(self, batches: list[list[tuple]]) -> DataLoader:
        return DataLoader(
            self.dataset,
            batch_sampler=batches,
            collate_fn=collate_clips,
            num_workers=self.cfg.workers,
            pin_memory=self.device.startswith("cuda"),
            persistent_workers=False,
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with autocast(self.device, self.cfg.precision):
            out = self.model(to_device(batch, self.device))
        # The loss runs in fp32 (softmax over the global batch at temperature 0.05).
        return {k: v.float() if v.is_floating_point() else v for k, v in out.items()}

    def loss(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        out = gather_outputs(out, self.world)
        return combinatorial_loss(out, self.cfg.loss_weights, self.cfg.temperature)

    def step(
        self, batch: dict[str, torch.Tensor], keys: list[tuple] | None = None
    ) -> tuple[float, dict[str, float]]:
        # The reference fine-tunes with `use_eval_mode_always`: BatchNorm keeps its statistics.
        self.model.train(not self.cfg.eval_mode)
        self.opt.zero_grad(set_to_none=True)
        if self.cfg.accumulate > 1:
            loss, parts = self.accumulated_step(batch)
        else:
            loss, parts = self.loss(self.forward(batch))
            self.scaler.scale(loss).backward()
        if not torch.isfinite(loss):  # before the update: the weights stay those of the last step
            raise TrainingDiverged(self.divergence_report(loss.item(), parts, keys or []))
        self.scaler.step(self.opt)
        self.scaler.update()
        return loss.item(), {k: v.item() for k, v in parts.items()}

    def divergence_report(self, loss: float, parts: dict[str, torch.Tensor], keys: list) -> str:
        name = getattr(self.dataset, "item_name", str)
        videos = ", ".join(name(index) for _, index in keys) or "unknown"
        bad = [k for k, v in parts.items() if not torch.isfinite(v)]
        last = self.last_checkpoint
        return (
            f"loss is {loss} (terms {', '.join(bad) or 'none'}) at step {self.pos.step + 1} "
            f"(epoch {self.pos.epoch + 1}, batch {self.pos.batch + 1}); this rank's videos: "
            f"{videos}; last good checkpoint: "
            + (f"{last[0]} (step {last[1]})" if last else "none (nothing saved yet)")
        )

    def accumulated_step(
        self, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Gradient accumulation that keeps the whole batch's contrastive loss (embedding
        caching, as GradCache, Gao et al. 2021): 1. the embeddings of every micro-batch without
        a graph; 2. the loss over all of them and its gradient with respect to each embedding;
        3. each micro-batch again with its graph, backpropagating those gradients. Memory of one
        micro-batch, one extra forward pass. BatchNorm (audio CNN) normalises per micro-batch,
        as it does per rank under DDP; its running statistics are updated in pass 3 only."""
        micro = split_batch(batch, self.cfg.accumulate)
        buffers = {k: v.clone() for k, v in self.module.named_buffers()}
        with torch.no_grad():
            cached = [self.forward(mb) for mb in micro]
        self.module.load_state_dict(buffers, strict=False)  # pass 1 must not move BN statistics
        leaves = {
            k: torch.cat([c[k] for c in cached]).requires_grad_(k.endswith("_embed"))
            for k in cached[0]
        }
        loss, parts = self.loss(leaves)
        self.scaler.scale(loss).backward()  # gradients of the embeddings only
        sizes = [len(next(iter(mb.values()))) for mb in micro]
        grads = {k: v.grad.split(sizes) for k, v in leaves.items() if v.grad is not None}
        for i, mb in enumerate(micro):
            # DDP reduces the gradients once, after the last micro-batch
            last = i == len(micro) - 1 or self.world.size == 1
            with contextlib.nullcontext() if last else self.model.no_sync():
                out = self.forward(mb)
                torch.stack([(out[k] * g[i]).sum() for k, g in grads.items()]).sum().backward()
        return loss, parts

    def run(self, stop_after_steps: int | None = None) -> bool:
        """Train to the last epoch; returns False when stopped early by stop_after_steps
        (the tests' stand-in for a killed job)."""
        ckpt_dir = self.ckpt_dir
        self.metrics.start()  # the history so far (none on a fresh start), then live
        clips_per_step = self.cfg.batch_videos * self.cfg.n_clips
        while self.pos.epoch < self.cfg.epochs:
            epoch = self.pos.epoch
            groups = getattr(self.dataset, "groups", None)
            batches = epoch_batches(len(self.dataset), self.cfg, epoch, self.world, groups)
            todo = batches[self.pos.batch :]
            tick = time.perf_counter()
            loss = float("nan")  # a run resumed right after an epoch's last step has no batch left
            bar = progress(
                self.loader(todo), desc=f"epoch {epoch + 1}/{self.cfg.epochs}", total=len(todo)
            )
            for keys, batch in zip(todo, bar, strict=True):
                loss, parts = self.step(batch, keys)
                self.pos.batch += 1
                self.pos.step += 1
                if self.pos.step % self.cfg.log_every_steps == 0 or self.pos.batch == len(batches):
                    now = time.perf_counter()
                    self.metrics.write(
                        {
                            "step": self.pos.step,
                            "epoch": epoch + 1,
                            "loss": loss,
                            "parts": parts,
                            "lr": self.opt.param_groups[0]["lr"],
                            "clips_per_s": clips_per_step / max(now - tick, 1e-9),
                        }
                    )
                tick = time.perf_counter()
                every = self.cfg.checkpoint_every_steps
                if every and self.pos.step % every == 0:
                    self.checkpoint(ckpt_dir / "last.pt")
                if stop_after_steps is not None and self.pos.step >= stop_after_steps:
                    return False
            with warnings.catch_warnings():
                # Resumed right at an epoch's end, this process has not stepped the optimizer
                # yet and torch warns; the schedule is still right (it is in the checkpoint).
                warnings.filterwarnings("ignore", "Detected call of `lr_scheduler")
                self.sched.step()
            self.pos = state.Position(epoch + 1, 0, self.pos.step)
            self.checkpoint(ckpt_dir / f"epoch-{epoch + 1:03d}.pt")
            self.checkpoint(ckpt_dir / "last.pt")
            log.info("epoch %d done: step %d, loss %.4f", epoch + 1, self.pos.step, loss)
        return True
