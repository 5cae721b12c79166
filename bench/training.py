"""Training step throughput: our model against a straightforward reference, in the same run.

    python bench/training.py [--device cpu|cuda] [--config medium|paper|demo] [--videos 8]

Both models hold the same weights and take the same batch (videos x 10 clips: 20 text tokens,
12 video tokens, 768 spectrogram frames) through forward, the combinatorial loss, backward and an
Adam step, fp32 on CPU. Reference (bench/reference_model.py): the official structure, six
separate fusion passes with eager attention and an explicit softmax. Ours (eao.model): shared
token projections and qkv across passes, packed passes, SDPA. On a GPU, ours is also measured
under bf16 autocast, with peak memory and model FLOPs utilisation. Prints a JSON line per
measurement and writes results/bench/training.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import ReferenceModel  # noqa: E402

from eao.model import EverythingAtOnce, ModelConfig  # noqa: E402
from eao.train.loss import PAPER_WEIGHTS, combinatorial_loss  # noqa: E402

CONFIGS = {
    # the demo's scaled-down model
    "demo": dict(width=256, heads=4, proj_dim=256, audio_channels=(32, 32, 64, 64, 128, 128, 256)),
    # a quarter of the paper's width: fits a CPU benchmark in minutes
    "medium": dict(
        width=1024, heads=16, proj_dim=1536, audio_channels=(32, 32, 64, 128, 256, 512, 1024)
    ),
    "paper": dict(),  # width 4096, heads 64, proj 6144, DAVEnet v2 (689 M parameters)
}


def make_batch(n: int, cfg: ModelConfig, device: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    batch = {
        "text": torch.randn(n, 20, cfg.text_dim, generator=g),
        "text_mask": torch.ones(n, 20),
        "video": torch.randn(n, 12, cfg.video_dim, generator=g),
        "video_mask": torch.ones(n, 12),
        "audio": torch.rand(n, 40, 768, generator=g) * -80,
        "audio_mask": torch.ones(n, 768),
    }
    # HowTo-like raggedness: short captions, a few unnarrated clips, a few short videos.
    batch["text_mask"][:, 12:] = 0
    batch["text_mask"][::7] = 0
    batch["video_mask"][::5, 8:] = 0
    return {k: v.to(device) for k, v in batch.items()}


def time_steps(model: torch.nn.Module, batch: dict, steps: int, device: str, bf16: bool) -> dict:
    opt = torch.optim.Adam(model.parameters(), lr=5e-5)
    model.train()

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            out = model(batch)
        loss, _ = combinatorial_loss(
            {k: v.float() if v.is_floating_point() else v for k, v in out.items()}, PAPER_WEIGHTS
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up: allocations, kernels, Adam state
    sync()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    best = min(times)
    result = {"step_s": best, "clips_per_s": batch["video"].shape[0] / best}
    if device == "cuda":
        result["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", choices=list(CONFIGS), default="medium")
    ap.add_argument("--videos", type=int, default=8, help="videos per batch (x 10 clips)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument(
        "--compile", action="store_true", help="also ours under torch.compile (same weights)"
    )
    ap.add_argument("--out", default="results/bench/training.json")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 for both models
    torch.backends.cudnn.allow_tf32 = False

    cfg = ModelConfig(video_dim=4096, text_dim=300, **CONFIGS[args.config])
    torch.manual_seed(0)
    ours = EverythingAtOnce(cfg).to(args.device)
    ref = ReferenceModel(cfg).to(args.device)
    ref.load_state_dict(ours.state_dict())
    batch = make_batch(args.videos * 10, cfg, args.device)
    params = sum(p.numel() for p in ours.parameters())
    common = {
        "config": args.config,
        "params": params,
        "clips": args.videos * 10,
        "device": args.device,
        "threads": torch.get_num_threads(),
    }

    results = []
    for name, model, bf16 in [("reference_fp32", ref, False), ("ours_fp32", ours, False)] + (
        [("ours_bf16", ours, True)] if args.device == "cuda" else []
    ) + ([("ours_compiled_fp32", torch.compile(ours), False)] if args.compile else []):
        r = {**common, "model": name, **time_steps(model, batch, args.steps, args.device, bf16)}
        results.append(r)
        print(json.dumps(r), flush=True)
    speedup = results[0]["step_s"] / results[1]["step_s"]
    summary = {**common, "speedup_fp32": speedup}
    if args.compile:  # compiled against eager ours, same run
        summary["compile_speedup"] = results[1]["step_s"] / results[-1]["step_s"]
    if args.device == "cuda":
        summary["speedup_bf16_vs_reference"] = results[0]["step_s"] / results[2]["step_s"]
    print(json.dumps(summary))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"runs": results, "summary": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
