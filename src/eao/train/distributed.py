"""Process-group helpers: one process per GPU under torchrun (or 2 CPU processes with gloo).

The contrastive loss needs the global batch as negatives, so every rank gathers all ranks'
embeddings with autograd (torch.distributed.nn.functional.all_gather: its backward sums the
gradients of every rank's copy of the loss into the owner's slice). Every rank then computes
the same global loss; DDP's gradient averaging divides the world-size-fold sum back out, so the
update equals that of one process holding the whole batch.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn

from eao.devices import resolve_device


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device: str) -> World:
    """Join the process group torchrun describes in the environment; single process otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def gather_outputs(out: dict[str, torch.Tensor], world: World) -> dict[str, torch.Tensor]:
    """Concatenate every rank's model outputs along the batch axis, rank order, with gradients.

    Boolean masks travel as uint8 (collectives do not take bool on every backend)."""
    if world.size == 1:
        return out
    gathered = {}
    for key, value in out.items():
        if value.dtype == torch.bool:
            parts = dist_nn.all_gather(value.to(torch.uint8))
            gathered[key] = torch.cat(parts).bool()
        else:
            gathered[key] = torch.cat(dist_nn.all_gather(value.contiguous()))
    return gathered


def start_process(device: str, threads: int) -> tuple[str, World]:
    """Logging, torch threads, the device and this process's rank (one per GPU under torchrun);
    shared by pretraining and fine-tuning."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if threads:  # the job's threads are shared by the processes torchrun starts on this node
        torch.set_num_threads(max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    device = resolve_device(device)
    world = init_from_env(device)
    if device == "cuda":
        device = f"cuda:{world.local_rank}"
        torch.cuda.set_device(device)
    return device, world
