"""Training step throughput: our model against the official structure, in the same run.

    python bench/training.py [--device cpu|cuda] [--config all|demo|medium|paper|tiny] [--videos N]

Both models hold the same weights, the paper's full audio CNN (ResDAVEnet v2, 315 M parameters)
in every config but `tiny` (a dry-run size), and take the same batch (videos x 10 clips: 20 text
tokens, 12 video tokens, 768 spectrogram frames) through forward, the combinatorial loss,
backward and an Adam step. Reference (bench/reference_model.py): the official structure, six
separate fusion passes with eager attention and an explicit softmax, Conv2d audio CNN, plain
torch.optim.Adam. Ours (eao.model + eao.train.optim.make_optimizer, as eao.train.loop): shared
token projections and qkv across passes, packed passes, SDPA, the audio CNN as GEMMs in token
layout, fused Adam.

Sides: on CPU reference fp32 against ours fp32. On a GPU the baseline is the official recipe
(its pretraining ran `mixed_precision: true`): the reference in fp16 autocast with a GradScaler,
the reference in fp32 as a second row, and ours in bf16 autocast. The sides are timed
interleaved (one step of each, repeated; best of --rounds after a warm-up), so load from other
processes hits them alike. Each side's FLOPs per step are counted once with
torch.utils.flop_counter.FlopCounterMode (matmuls, convolutions, attention; forward + backward),
giving achieved FLOP/s and MFU: on CPU against this machine's fp32 GEMM rate measured in the
same run (2048 x 2048 matmuls, best of 5), on a GPU against the device's dense bf16/fp16 peak
(PEAK_TFLOPS; an unknown device: its measured bf16 GEMM rate). Writes --out (JSON)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterable

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import meta  # noqa: E402
from meta import write_result  # noqa: E402
from reference_model import ReferenceModel  # noqa: E402

from eao.model import EverythingAtOnce, ModelConfig  # noqa: E402
from eao.train.loss import PAPER_WEIGHTS, combinatorial_loss  # noqa: E402
from eao.train.optim import make_optimizer  # noqa: E402

# Every config has the paper's full audio CNN (ModelConfig's default audio_channels).
CONFIGS = {
    "demo": dict(width=256, heads=4, proj_dim=256),  # the demo's fusion width
    "medium": dict(width=1024, heads=16, proj_dim=1536),  # a quarter of the paper's width
    "paper": dict(),  # width 4096, heads 64, proj 6144 (689 M parameters)
    # a dry-run size (bench/gpu.sh --tiny): narrow audio CNN, not a measurement
    "tiny": dict(width=64, heads=2, proj_dim=64, audio_channels=(16, 16, 32, 32, 64, 64, 128)),
}
# videos per batch (x 10 clips) for `--config all`: a CPU run of a few minutes per config
DEFAULT_VIDEOS = {"demo": 8, "medium": 4, "paper": 1, "tiny": 1}
# Dense bf16/fp16 tensor-core peaks (TFLOP/s) by device name; the first name found wins.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}
BASELINE_CPU = "the official structure (bench/reference_model.py) in fp32 with plain Adam"
BASELINE_GPU = (
    "the official recipe: the official structure (bench/reference_model.py) in fp16 autocast "
    "with a GradScaler and plain Adam (mixed_precision: true); the same in fp32 as a second row"
)


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


class Stepper:
    """One side of the comparison: a model, its optimizer factory and a timed training step.
    The step is split in forward / loss / backward / optimizer, and the audio CNN's forward and
    backward are timed by hooks (its backward: from its output's gradient arriving to the end of
    backward; the CNN is the first thing in the graph, so that is its backward)."""

    def __init__(
        self,
        name: str,
        model: torch.nn.Module,
        make_opt: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer],
        batch: dict,
        device: str,
        amp: str = "",
    ):
        self.name, self.model, self.make_opt = name, model, make_opt
        self.batch, self.device, self.amp = batch, device, amp
        self.scaler = torch.amp.GradScaler(device) if amp == "fp16" else None
        self.opt = None
        self.marks: dict[str, float] = {}
        model.davenet.register_forward_pre_hook(lambda *_: self.mark("cnn_fwd_start"))
        model.davenet.register_forward_hook(self._cnn_done)

    def mark(self, key: str) -> None:
        self.sync()
        self.marks[key] = time.perf_counter()

    def _cnn_done(self, _module, _inputs, output: torch.Tensor) -> None:
        self.mark("cnn_fwd_end")
        if output.requires_grad:
            output.register_hook(lambda g: self.mark("cnn_bwd_start"))

    def sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def release(self) -> None:
        """Drop the optimizer state and the gradients (memory for the other side)."""
        self.opt = None
        self.model.zero_grad(set_to_none=True)
        gc.collect()

    def step(self) -> dict[str, float]:
        if self.opt is None:
            self.opt = self.make_opt(self.model.parameters())
        self.model.train()
        self.mark("start")
        dtype = torch.float16 if self.amp == "fp16" else torch.bfloat16
        with torch.autocast(self.device, dtype=dtype, enabled=bool(self.amp)):
            out = self.model(self.batch)
        self.mark("forward")
        loss, _ = combinatorial_loss(
            {k: v.float() if v.is_floating_point() else v for k, v in out.items()}, PAPER_WEIGHTS
        )
        self.mark("loss")
        self.opt.zero_grad(set_to_none=True)
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        self.mark("backward")
        if self.scaler is None:
            self.opt.step()
        else:
            self.scaler.step(self.opt)
            self.scaler.update()
        self.mark("optimizer")
        m = self.marks
        return {
            "step_s": m["optimizer"] - m["start"],
            "cnn_fwd_s": m["cnn_fwd_end"] - m["cnn_fwd_start"],
            "rest_fwd_s": m["forward"] - m["start"] - (m["cnn_fwd_end"] - m["cnn_fwd_start"]),
            "loss_s": m["loss"] - m["forward"],
            "cnn_bwd_s": m["backward"] - m["cnn_bwd_start"],
            "rest_bwd_s": m["cnn_bwd_start"] - m["loss"],
            "optimizer_s": m["optimizer"] - m["backward"],
        }


def time_steps(model: torch.nn.Module, batch: dict, steps: int, device: str, bf16: bool) -> dict:
    """Ours alone (bench/loader.py): best of `steps` training steps after a warm-up."""
    amp = "bf16" if bf16 else ""
    side = Stepper("ours", model, lambda p: make_optimizer(p, 5e-5), batch, device, amp)
    side.step()  # warm-up: allocations, kernels, Adam state
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    best = min(side.step()["step_s"] for _ in range(steps))
    result = {"step_s": best, "clips_per_s": batch["video"].shape[0] / best}
    if device == "cuda":
        result["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
    side.release()
    return result


def available_bytes() -> int:
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) * 1024


def count_flops(side: Stepper) -> int:
    """FLOPs of one training step of `side` (forward + backward; an untimed step)."""
    counter = FlopCounterMode(display=False)
    with counter:
        side.step()
    return counter.get_total_flops()


def gemm_flop_per_s(device: str, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """This machine's large-GEMM rate: n x n matmuls, best of `repeats` (after a warm-up)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    reps = 20 if device == "cuda" else 2  # matmuls per timing: long enough to time on a GPU
    best = float("inf")
    for _ in range(repeats + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) / reps)
    return 2 * n**3 / best


def peak(device: str) -> dict:
    """What MFU is measured against: a known dense bf16 peak, else the measured GEMM rate."""
    if device == "cuda":
        name = torch.cuda.get_device_name()
        known = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
        if known is not None:
            return {"flop_per_s": known * 1e12, "is": f"{name} dense bf16/fp16 peak (datasheet)"}
        rate = gemm_flop_per_s(device, torch.bfloat16)
        return {"flop_per_s": rate, "is": f"{name}: measured bf16 2048x2048 GEMM, best of 5"}
    rate = gemm_flop_per_s(device, torch.float32)
    threads = torch.get_num_threads()
    return {"flop_per_s": rate, "is": f"measured fp32 2048x2048 GEMM, {threads} threads, best of 5"}


def first_step(side: Stepper, flops: dict[str, int], count: bool) -> None:
    """The untimed warm-up step (allocations, Adam state); counts the FLOPs the first time."""
    if count and side.name not in flops:
        flops[side.name] = count_flops(side)
    else:
        side.step()


def timed_step(side: Stepper) -> dict:
    if side.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t = side.step()
    if side.device == "cuda":
        t["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return t


def compare(sides: list[Stepper], rounds: int, params: int) -> tuple[list[dict], dict]:
    """Interleaved: each round steps every side once; best of `rounds` per side. When both
    sides' Adam state (16 bytes a parameter with weights and gradients) does not fit in
    memory, or on a GPU, each round starts a fresh optimizer with an untimed warm-up step.
    Returns the best step of each side and each side's FLOPs per step."""
    # on a GPU never: each side's peak memory must not hold the other sides' Adam state
    keep = sides[0].device != "cuda" and len(sides) * params * 16 < 0.7 * available_bytes()
    best: dict[str, dict] = {}
    flops: dict[str, int] = {}
    for r in range(rounds):
        for side in sides:
            if r == 0 or not keep:
                first_step(side, flops, count=r == 0)
            t = timed_step(side)
            if side.name not in best or t["step_s"] < best[side.name]["step_s"]:
                best[side.name] = t
            if not keep:
                side.release()
    for side in sides:
        side.release()
    return [{"model": s.name, **best[s.name]} for s in sides], flops


def with_rates(run: dict, clips: int, flops: int, ref_flops: int, peak_rate: float) -> dict:
    """clips/s, FLOPs per step, achieved FLOP/s and MFU (own FLOPs; and the reference's, the
    same useful work for every side)."""
    step = run["step_s"]
    return {
        **run,
        "clips_per_s": clips / step,
        "flops_per_step": flops,
        "flop_per_s": flops / step,
        "mfu": flops / step / peak_rate,
        "mfu_reference_flops": ref_flops / step / peak_rate,
    }


def make_sides(ref, ours, batch: dict, device: str) -> list[Stepper]:
    lr = 5e-5

    def plain(p):  # the official code: plain Adam (a Python loop over tensors on CPU)
        return torch.optim.Adam(p, lr=lr)

    def fused(p):  # ours: the optimizer eao.train.loop trains with
        return make_optimizer(p, lr)

    if device != "cuda":
        return [
            Stepper("reference_fp32", ref, plain, batch, device),
            Stepper("ours_fp32", ours, fused, batch, device),
        ]
    return [
        Stepper("reference_amp_fp16", ref, plain, batch, device, amp="fp16"),
        Stepper("reference_fp32", ref, plain, batch, device),
        Stepper("ours_bf16", ours, fused, batch, device, amp="bf16"),
    ]


def run_config(name: str, videos: int, args: argparse.Namespace, peak_rate: float) -> dict:
    cfg = ModelConfig(video_dim=4096, text_dim=300, **CONFIGS[name])
    torch.manual_seed(0)
    ours = EverythingAtOnce(cfg).to(args.device)
    ref = ReferenceModel(cfg).to(args.device)
    ref.load_state_dict(ours.state_dict())
    batch = make_batch(videos * 10, cfg, args.device)
    params = sum(p.numel() for p in ours.parameters())
    common = {
        "config": name,
        "width": cfg.width,
        "params": params,
        "cnn_params": sum(p.numel() for p in ours.davenet.parameters()),
        "clips": videos * 10,
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device == "cuda" else meta.cpu_model(),
        "threads": torch.get_num_threads(),
    }
    sides = make_sides(ref, ours, batch, args.device)
    runs, flops = compare(sides, args.rounds, params)
    ref_flops = flops[sides[0].name]
    results = [
        {**common, **with_rates(r, videos * 10, flops[r["model"]], ref_flops, peak_rate)}
        for r in runs
    ]
    for r in results:
        print(json.dumps(r), flush=True)
    return {"runs": results, "summary": summarize(common, results)}


def summarize(common: dict, results: list[dict]) -> dict:
    """Each reference side's step time over ours' (the last side)."""
    ours = results[-1]
    summary = {**common, "ours": ours["model"]}
    for r in results[:-1]:
        summary[f"speedup_vs_{r['model']}"] = r["step_s"] / ours["step_s"]
    print(json.dumps(summary), flush=True)
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", choices=["all", *CONFIGS], default="all")
    ap.add_argument("--videos", type=int, help="videos per batch (x 10 clips); default per config")
    ap.add_argument(
        "--rounds", "--steps", type=int, default=3, help="interleaved timed rounds (best of)"
    )
    ap.add_argument("--out", default="results/bench/training.json")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 for every side
    torch.backends.cudnn.allow_tf32 = False
    names = [n for n in CONFIGS if n != "tiny"] if args.config == "all" else [args.config]
    mfu_peak = peak(args.device)
    print(json.dumps({"peak": mfu_peak}), flush=True)
    configs = [
        run_config(n, args.videos or DEFAULT_VIDEOS[n], args, mfu_peak["flop_per_s"]) for n in names
    ]
    baseline = BASELINE_GPU if args.device == "cuda" else BASELINE_CPU
    write_result(  # "runs": every config's, flat (bench/cost.py reads them)
        args.out,
        {
            "baseline_is": baseline,
            "peak": mfu_peak,
            "runs": [r for c in configs for r in c["runs"]],
            "summaries": [c["summary"] for c in configs],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
