"""Training step throughput: our model against a straightforward reference, in the same run.

    python bench/training.py [--device cpu|cuda] [--config all|demo|medium|paper] [--videos N]

Both models hold the same weights, the paper's full audio CNN (ResDAVEnet v2, 315 M parameters)
in every config, and take the same batch (videos x 10 clips: 20 text tokens, 12 video tokens,
768 spectrogram frames) through forward, the combinatorial loss, backward and an Adam step,
fp32. Reference (bench/reference_model.py): the official structure, six separate fusion passes
with eager attention and an explicit softmax, Conv2d audio CNN, plain torch.optim.Adam. Ours
(eao.model + eao.train.optim.make_optimizer, as eao.train.loop): shared token projections and
qkv across passes, packed passes, SDPA, the audio CNN as GEMMs in token layout, fused Adam.
The two are timed interleaved (reference step, ours step, repeated; best of --rounds), so load
from other processes hits both alike. On a GPU, ours is also measured under bf16 autocast
(peak memory too). Prints a JSON line per measurement and writes results/bench/training.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterable

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import ReferenceModel  # noqa: E402

from eao.model import EverythingAtOnce, ModelConfig  # noqa: E402
from eao.train.loss import PAPER_WEIGHTS, combinatorial_loss  # noqa: E402
from eao.train.optim import make_optimizer  # noqa: E402

# Every config has the paper's full audio CNN (ModelConfig's default audio_channels).
CONFIGS = {
    "demo": dict(width=256, heads=4, proj_dim=256),  # the demo's fusion width
    "medium": dict(width=1024, heads=16, proj_dim=1536),  # a quarter of the paper's width
    "paper": dict(),  # width 4096, heads 64, proj 6144 (689 M parameters)
}
# videos per batch (x 10 clips) for `--config all`: a CPU run of a few minutes per config
DEFAULT_VIDEOS = {"demo": 8, "medium": 4, "paper": 1}


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
        bf16: bool = False,
    ):
        self.name, self.model, self.make_opt = name, model, make_opt
        self.batch, self.device, self.bf16 = batch, device, bf16
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
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(self.batch)
        self.mark("forward")
        loss, _ = combinatorial_loss(
            {k: v.float() if v.is_floating_point() else v for k, v in out.items()}, PAPER_WEIGHTS
        )
        self.mark("loss")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.mark("backward")
        self.opt.step()
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
    side = Stepper("ours", model, lambda p: make_optimizer(p, 5e-5), batch, device, bf16)
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


def compare(sides: list[Stepper], rounds: int, params: int) -> list[dict]:
    """Interleaved: each round steps every side once; best of `rounds` per side. When both
    sides' Adam state (16 bytes a parameter with weights and gradients) does not fit in
    memory, each round starts a fresh optimizer with an untimed warm-up step."""
    keep = len(sides) * params * 16 < 0.7 * available_bytes()
    best: dict[str, dict] = {}
    for r in range(rounds):
        for side in sides:
            if r == 0 or not keep:
                side.step()  # warm-up: allocations, Adam state
            t = side.step()
            if side.name not in best or t["step_s"] < best[side.name]["step_s"]:
                best[side.name] = t
            if not keep:
                side.release()
    for side in sides:
        side.release()
    clips = sides[0].batch["video"].shape[0]
    return [
        {"model": s.name, **best[s.name], "clips_per_s": clips / best[s.name]["step_s"]}
        for s in sides
    ]


def run_config(name: str, videos: int, args: argparse.Namespace) -> dict:
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
        "threads": torch.get_num_threads(),
    }
    lr = 5e-5
    sides = [
        # the official code: plain Adam (a Python loop over tensors on CPU)
        Stepper("reference_fp32", ref, lambda p: torch.optim.Adam(p, lr=lr), batch, args.device),
        # ours: the optimizer eao.train.loop trains with
        Stepper("ours_fp32", ours, lambda p: make_optimizer(p, lr), batch, args.device),
    ]
    if args.device == "cuda":
        sides.append(
            Stepper(
                "ours_bf16", ours, lambda p: make_optimizer(p, lr), batch, args.device, bf16=True
            )
        )
    results = [{**common, **r} for r in compare(sides, args.rounds, params)]
    for r in results:
        print(json.dumps(r), flush=True)
    summary = {**common, "speedup_fp32": results[0]["step_s"] / results[1]["step_s"]}
    if args.device == "cuda":
        summary["speedup_bf16_vs_reference"] = results[0]["step_s"] / results[2]["step_s"]
    print(json.dumps(summary), flush=True)
    return {"runs": results, "summary": summary}


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
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 for both models
    torch.backends.cudnn.allow_tf32 = False
    names = list(CONFIGS) if args.config == "all" else [args.config]
    configs = [run_config(n, args.videos or DEFAULT_VIDEOS[n], args) for n in names]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:  # "runs": every config's, flat (bench/cost.py reads them)
        runs = [r for c in configs for r in c["runs"]]
        json.dump({"runs": runs, "summaries": [c["summary"] for c in configs]}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
