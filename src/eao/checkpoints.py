"""Model checkpoints: load ours, import the official Everything-at-Once ones.

Our format: `torch.save` of a dict with "model" (the state_dict) and "model_config"
(`dataclasses.asdict(ModelConfig)`), plus whatever the trainer adds (optimizer, scheduler, rng,
epoch, step, config). Only tensors and plain containers: loads with `weights_only=True`.

    eao import-checkpoint OFFICIAL.pth OUT.pt

converts a released checkpoint (`torch.save({'arch', 'epoch', 'step', 'state_dict', 'optimizer',
'monitor_best', 'config'})`, keys usually prefixed `module.` by DataParallel) into our format:
the architecture is read off the tensor shapes (docs/model.md, "Released checkpoints"). The
converted file's "source" names the released file and its sha256; a model fine-tuned from it
keeps them (`checkpoint_source`), and the evaluations record them beside their numbers
(`model_record`), so a table says which weights produced each number.
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

import eao
from eao.errors import ArgumentParser, BadInput, reading, run
from eao.io.atomic import atomic_path
from eao.io.digest import sha256_file
from eao.io.torch_file import PickledObjects, read_checkpoint
from eao.model import EverythingAtOnce, ModelConfig


def load_model(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[EverythingAtOnce, dict]:
    """Our checkpoint -> (model with its weights, strictly loaded, in eval mode; the whole
    checkpoint dict). Eval mode because every caller but training embeds with it: in training
    mode the audio CNN's BatchNorm normalises with the batch's statistics, so an embedding
    would depend on the rest of the batch. A caller that trains from it sets `.train()` itself
    (the Trainer does, every step). BadInput naming the file when it is not a model checkpoint
    of ours."""
    ckpt = read_checkpoint(path, map_location=map_location)
    return model_from(ckpt, path), ckpt


def model_from(ckpt: dict, path: str | Path) -> EverythingAtOnce:
    """The eval-mode model of a checkpoint dict of ours; BadInput naming `path` otherwise."""
    missing = [k for k in ("model", "model_config") if k not in ckpt]
    if missing and "state_dict" in ckpt:
        raise BadInput(
            "an official Everything-at-Once checkpoint, not eao's: convert it with "
            "`eao import-checkpoint` first",
            path,
        )
    if missing:
        keys = ", ".join(map(str, list(ckpt)[:8])) or "nothing"
        raise BadInput(
            f"not an eao model checkpoint (no {' or '.join(missing)}; it holds {keys})", path
        )
    state = ckpt["model"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise BadInput("not an eao model checkpoint ('model' is not a dict of tensors)", path)
    with reading(path):  # the file's config: unknown or mistyped keys name the file
        cfg = ModelConfig(**ckpt["model_config"])
    with torch.device("meta"):  # outside `reading`: a failure to build the model is a bug
        expected = EverythingAtOnce(cfg).state_dict()
    with reading(path):
        _check_keys(state, expected, "its model_config")
    return _build(cfg, state).eval()


def _build(cfg: ModelConfig, state: dict[str, Tensor]) -> EverythingAtOnce:
    """The model holding `state`'s tensors (strict). Built on the meta device and assigned:
    no random init of weights that are overwritten anyway (seconds at full size)."""
    with torch.device("meta"):
        model = EverythingAtOnce(cfg)
    model.load_state_dict(state, strict=True, assign=True)
    return model


def import_official(src: str | Path, dst: str | Path, trust_pickle: bool = False) -> ModelConfig:
    """Convert an official checkpoint into our format at `dst` (written atomically).

    The file is read with the safe `weights_only=True` unpickler (tensors and plain containers:
    the released files load so). A file holding other pickled objects is refused, since
    unpickling them can run code from the file, unless `trust_pickle` (then it is read with
    `weights_only=False`: only for a file whose origin you trust). The model config is
    inferred from the tensor shapes (heads from the file's config when it has them, else
    width // 64); every key must match: a missing, unexpected or mis-shaped key is an error
    naming it. Returns the inferred config."""
    raw = _read(src, trust_pickle)
    if "model_config" in raw:
        raise BadInput("already an eao checkpoint (it has a model_config): use it as it is", src)
    state = raw.get("state_dict", raw)
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise BadInput("no 'state_dict' of tensors (not an official EAO checkpoint)", src)
    with reading(src):  # a missing or mis-shaped tensor: the message names the file
        state = _drop_alias({k.removeprefix("module."): v for k, v in state.items()})
        cfg = infer_config(state, _arch_args(raw.get("config")))
    with torch.device("meta"):  # outside `reading`: a failure to build the model is a bug
        expected = EverythingAtOnce(cfg).state_dict()
    with reading(src):
        _check_keys(state, expected)
    model = _build(cfg, {k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    source = {"format": "official", "file": Path(src).name, "sha256": sha256_file(str(src))}
    for key in ("arch", "epoch", "step"):
        if isinstance(raw.get(key), str | int):
            source[key] = raw[key]
    save_atomic(
        {
            "eao_version": eao.__version__,
            "model": model.state_dict(),
            "model_config": asdict(cfg),
            "source": source,
        },
        Path(dst),
    )
    return cfg


def checkpoint_source(ckpt: dict, finetuned: bool = False) -> dict | None:
    """Where a checkpoint's weights come from when not from our pretraining: an imported
    released checkpoint's "source" (format, file, sha256, ...); None for ours. `finetuned`:
    the source a model fine-tuned from `ckpt` records (the same, marked finetuned)."""
    source = ckpt.get("source")
    if not isinstance(source, dict):
        return None
    return {**source, "finetuned": True} if finetuned else dict(source)


def model_record(ckpt: dict) -> dict:
    """What a result JSON records of its model's origin: {"model_source": ...} for weights of
    an imported checkpoint (or fine-tuned from one), nothing for ours."""
    source = checkpoint_source(ckpt)
    return {"model_source": source} if source else {}


def infer_config(state: dict[str, Tensor], arch_args: dict | None = None) -> ModelConfig:
    """ModelConfig of an official state_dict (keys without `module.`), from tensor shapes.
    `arch_args`: the official config's arch.args (for num_heads and cross_modal), if known."""
    arch_args = arch_args or {}
    fusion_params = arch_args.get("fusion_params") or {}
    width = _need(state, "fusion.masking_token").shape[0]
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"fusion\.blocks\.(\d+)\.", k))}
    per_modality = "fusion_video.masking_token" in state
    shared_proj = "proj.fc.weight" in state
    final = "proj" if shared_proj else "video_proj"
    kw = dict(
        video_dim=_need(state, "video_token_proj.fc.weight").shape[1],
        text_dim=_need(state, "text_token_proj.fc.weight").shape[1],
        width=width,
        heads=int(fusion_params.get("num_heads") or max(width // 64, 1)),
        depth=len(blocks),
        proj_dim=_need(state, f"{final}.fc.weight").shape[0],
        individual_projections=not shared_proj,
        fusion="per_modality" if per_modality else ("shared" if blocks else "none"),
        pooling="cls" if "fusion.cls_token" in state else "mean",
        cross_modal=bool(arch_args.get("cross_modal", not per_modality and bool(blocks))),
        **_davenet_config(state),
    )
    if blocks:
        kw["mlp_ratio"] = _need(state, "fusion.blocks.0.mlp.fc1.weight").shape[0] / width
    if "video_pos_embed" in state:
        kw["positional"] = "learned"
        kw["max_tokens"] = tuple(
            _need(state, f"{m}_pos_embed").shape[1] for m in ("text", "video", "audio")
        )
    return ModelConfig(**kw)


def _davenet_config(state: dict[str, Tensor]) -> dict:
    conv1 = _need(state, "davenet.conv1.weight")  # (C0, 1, n_mels, 1)
    channels, blocks, i = [conv1.shape[0]], [], 1
    while f"davenet.layer{i}.0.conv1.weight" in state:
        channels.append(state[f"davenet.layer{i}.0.conv1.weight"].shape[0])
        blocks.append(sum(1 for j in range(64) if f"davenet.layer{i}.{j}.conv1.weight" in state))
        i += 1
    if not blocks:
        raise ValueError("official checkpoint has no davenet.layer1: not a DAVEnet audio model")
    return {
        "n_mels": conv1.shape[2],
        "audio_channels": tuple(channels),
        "audio_blocks": tuple(blocks),
    }


def _drop_alias(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The official per-modality model holds `fusion_text` = the same module as `fusion`, so its
    state_dict repeats those tensors; we keep one copy (under `fusion`)."""
    alias = {k: v for k, v in state.items() if k.startswith("fusion_text.")}
    for k, v in alias.items():
        twin = state.get("fusion." + k.removeprefix("fusion_text."))
        if twin is None or twin.shape != v.shape or not torch.equal(twin, v):
            raise ValueError(f"{k} differs from its fusion.* twin; cannot drop the alias")
    return {k: v for k, v in state.items() if k not in alias}


def _check_keys(
    given: dict[str, Tensor], expected: dict[str, Tensor], what: str = "the inferred model"
) -> None:
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k} {tuple(given[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in given and given[k].shape != v.shape
    ]
    problems = [
        f"{what} ({len(keys)}): {', '.join(keys[:20])}{' ...' if len(keys) > 20 else ''}"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape", shapes))
        if keys
    ]
    if problems:
        raise ValueError(f"the weights do not match {what}: " + "; ".join(problems))


def _need(state: dict[str, Tensor], key: str) -> Tensor:
    if key not in state:
        raise ValueError(f"official checkpoint lacks {key!r}, needed to infer the architecture")
    return state[key]


def _arch_args(config: object) -> dict:
    """arch.args of the official (nested dict) config, {} when absent or not a dict."""
    try:
        args = config["arch"]["args"]  # type: ignore[index]
    except (KeyError, TypeError, IndexError):
        return {}
    return args if isinstance(args, dict) else {}


def _read(src: str | Path, trust_pickle: bool) -> dict:
    # mmap: the Adam state makes official files ~3x the weights; read only what is used
    try:
        return read_checkpoint(src, trust_pickle=trust_pickle, mmap=True)
    except PickledObjects as e:
        raise PickledObjects(
            f"{e.problem}. If you trust the file's origin, pass --trust-pickle "
            "(config: pretrain.checkpoint_trust_pickle)",
            src,
        ) from e


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temp file beside `path`, then rename: a killed job leaves no half file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(
        prog="eao import-checkpoint",
        description="Convert a released Everything-at-Once checkpoint (.pth) into eao's format.",
    )
    ap.add_argument("official", help="official checkpoint, e.g. latest_model.pth (trusted file)")
    ap.add_argument("out", help="output checkpoint (.pt), loadable with eao.checkpoints.load_model")
    ap.add_argument(
        "--trust-pickle",
        action="store_true",
        help="also unpickle objects other than tensors and containers (can run code: trusted "
        "files only)",
    )
    args = ap.parse_args(argv)
    cfg = import_official(args.official, args.out, trust_pickle=args.trust_pickle)
    print(f"imported {args.official} -> {args.out}: {cfg}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao import-checkpoint"))
