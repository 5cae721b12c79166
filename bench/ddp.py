"""Data-parallel training step: ours on every GPU present (torchrun), bf16 on a GPU.

    python -m torch.distributed.run --standalone --nproc_per_node N bench/ddp.py \\
        [--device cuda|cpu] [--config paper] [--videos 56] [--rounds 2] [--out ddp_gpu.json]

Each process holds the same model (eao.model.EverythingAtOnce wrapped in DistributedDataParallel)
and steps on its own batch of --videos x 10 clips: forward, the combinatorial loss, backward
(gradients all-reduced) and fused Adam. The step time is the slowest rank's, best of --rounds
after a warm-up; clips/s counts every rank's clips. Baseline: the same per-GPU step in
training_gpu.json (one GPU, no all-reduce). On --device cpu it runs with gloo (a dry run).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meta import write_result  # noqa: E402
from training import CONFIGS, Stepper, make_batch  # noqa: E402

from eao.model import EverythingAtOnce, ModelConfig  # noqa: E402
from eao.train.optim import make_optimizer  # noqa: E402


class _Wrapped(torch.nn.Module):
    """DDP around the model, with the `davenet` attribute Stepper's timing hooks look for."""

    def __init__(self, model: torch.nn.Module, device: str):
        super().__init__()
        ids = [torch.cuda.current_device()] if device == "cuda" else None
        self.ddp = DistributedDataParallel(model, device_ids=ids)
        self.davenet = model.davenet

    def forward(self, batch):
        return self.ddp(batch)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--config", choices=list(CONFIGS), default="paper")
    ap.add_argument("--videos", type=int, default=56, help="videos per GPU (x 10 clips)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="results/bench/ddp_gpu.json")
    args = ap.parse_args()
    dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    torch.manual_seed(0)
    cfg = ModelConfig(video_dim=4096, text_dim=300, **CONFIGS[args.config])
    model = _Wrapped(EverythingAtOnce(cfg).to(args.device), args.device)
    batch = make_batch(args.videos * 10, cfg, args.device)
    amp = "bf16" if args.device == "cuda" else ""
    side = Stepper("ours_ddp", model, lambda p: make_optimizer(p, 5e-5), batch, args.device, amp)
    side.step()  # warm-up
    times = []
    for _ in range(args.rounds):
        dist.barrier()
        step = torch.tensor(side.step()["step_s"])
        dist.all_reduce(step, op=dist.ReduceOp.MAX)  # the slowest rank's step
        times.append(float(step))
    if rank == 0:
        best = min(times)
        result = {
            "baseline_is": "the same per-GPU step on one GPU (training_gpu.json, ours_bf16)",
            "config": args.config,
            "world_size": world,
            "clips_per_rank": args.videos * 10,
            "step_s": best,
            "clips_per_s": world * args.videos * 10 / best,
        }
        write_result(args.out, result)
        print(result, flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
