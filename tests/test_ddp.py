"""DDP on CPU (gloo): 2 processes with half the batch each = 1 process with the whole batch.

Each rank runs the DDP-wrapped model on its half, gathers every rank's embeddings with autograd
(eao.train.distributed.gather_outputs) and computes the loss over the global batch, exactly as
eao.train.loop.Trainer.step does. The audio CNN's BatchNorm is put in eval mode here: in train mode
its statistics are per rank by design (as in the original multi-GPU training; SyncBatchNorm is
the option for GPUs, and torch's SyncBatchNorm does not run on CPU tensors).
"""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from eao.model import EverythingAtOnce, ModelConfig
from eao.train.distributed import World, gather_outputs
from eao.train.loss import PAPER_WEIGHTS, combinatorial_loss

CFG = ModelConfig(
    video_dim=24,
    text_dim=12,
    width=32,
    heads=4,
    proj_dim=16,
    audio_channels=(4, 4, 8, 8, 8, 16, 16),
)
N = 8  # clips in the global batch


def make_batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    batch = {
        "text": torch.randn(N, 5, 12, generator=g),
        "text_mask": torch.ones(N, 5),
        "video": torch.randn(N, 3, 24, generator=g),
        "video_mask": torch.ones(N, 3),
        "audio": torch.randn(N, 40, 128, generator=g) * 20 - 40,
        "audio_mask": torch.ones(N, 128),
    }
    batch["text_mask"][1, 3:] = 0
    batch["text_mask"][5] = 0  # an empty text on rank 1's half
    batch["video_mask"][2, 1:] = 0
    batch["audio_mask"][6, 64:] = 0
    return batch


def model_for_test() -> EverythingAtOnce:
    torch.manual_seed(0)
    model = EverythingAtOnce(CFG)
    model.train()
    model.davenet.eval()  # BN with running statistics: identical on every rank (see module doc)
    return model


def loss_and_grads(model, batch, world):
    out = gather_outputs(model(batch), world)
    loss, _ = combinatorial_loss(out, PAPER_WEIGHTS)
    loss.backward()
    named = model.module.named_parameters() if world.size > 1 else model.named_parameters()
    grads = {k: p.grad.clone() for k, p in named if p.grad is not None}
    return loss.detach(), grads


def worker(rank: int, port: int, results: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    torch.set_num_threads(1)
    half = {k: v[rank * N // 2 : (rank + 1) * N // 2] for k, v in make_batch().items()}
    model = DistributedDataParallel(model_for_test(), find_unused_parameters=True)  # as Trainer
    loss, grads = loss_and_grads(model, half, World(rank, 2, rank))
    results[rank] = (loss, grads)
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_ranks_equal_one_process_with_the_whole_batch():
    loss1, grads1 = loss_and_grads(model_for_test(), make_batch(), World())
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(worker, args=(free_port(), results), nprocs=2, join=True)
        results = dict(results)
    for rank in (0, 1):
        loss, grads = results[rank]
        torch.testing.assert_close(loss, loss1, atol=1e-6, rtol=0)
        assert grads.keys() == grads1.keys()
        # a few float32 ulps: half batches sum in another order (and thread counts differ)
        for name, g in grads1.items():
            message = f"gradient of {name}"
            torch.testing.assert_close(grads[name], g, atol=1e-6, rtol=1e-5, msg=message)
