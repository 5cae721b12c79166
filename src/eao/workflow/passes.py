"""Extraction passes: which media backbones one decode of a shard's videos feeds.

A pass is one job per shard (rule extract_<pass>): ffmpeg decodes each video once for all of
the pass's backbones (eao.features.extract). `features.passes` names extra passes, e.g.
`{r2plus1d: [r2plus1d]}`; the default pass `media` holds every enabled backbone no other pass
names. A pass records only its own backbones' settings and output versions, so adding a
backbone to a finished corpus as a pass of its own decodes once more for it alone and rewrites
no existing shard, and changing one backbone's settings reruns only its pass.

What a pass records: the settings of each backbone it holds that is enabled or on by default
(the paper's), so switching one of the paper's backbones off reruns nothing, and a backbone
added to the registry (off by default) reruns nothing either.
"""

from __future__ import annotations

import re

from eao.backbones.registry import backbone, backbones

DEFAULT_PASS = "media"
PASS_NAME = re.compile(r"[a-z][a-z0-9_]*")


def backbone_config(config: dict, name: str) -> dict:
    """A backbone's settings: its spec's defaults (enabled: whether it is one of the paper's)
    under the config's features.<name>."""
    spec = backbone(name)
    return {"enabled": spec.paper, **spec.defaults(), **config["features"].get(name, {})}


def enabled_backbones(config: dict) -> list[str]:
    return [b for b in backbones() if backbone_config(config, b)["enabled"]]


def _assigned(config: dict) -> dict[str, str]:
    """backbone -> the pass that holds it, every registered backbone (enabled or not)."""
    named = {b: p for p, members in config["features"].get("passes", {}).items() for b in members}
    return {b: named.get(b, DEFAULT_PASS) for b in backbones()}


def check_passes(config: dict) -> str | None:
    """Why features.passes cannot work, or None: a bad pass name, an unknown backbone, one
    named by two passes."""
    seen: dict[str, str] = {}
    for name, members in config["features"].get("passes", {}).items():
        if not PASS_NAME.fullmatch(name) or name == DEFAULT_PASS or name.startswith("text"):
            return (
                f"features.passes: {name!r} is not a pass name (lower-case letters, digits and _;"
                f" not {DEFAULT_PASS!r}, not text*: extract_text's)"
            )
        if len(set(members)) < len(members):
            return f"features.passes.{name}: a backbone named twice"
        for b in members:
            if b not in backbones():
                known = ", ".join(backbones())
                return f"features.passes.{name}: unknown backbone {b!r} (known: {known})"
            if b in seen:
                return f"features.passes: {b} is in both {seen[b]} and {name}"
            seen[b] = name
    return None


def passes(config: dict) -> dict[str, list[str]]:
    """pass -> its enabled backbones, the passes that have any (the default pass first)."""
    found: dict[str, list[str]] = {DEFAULT_PASS: []}
    assigned = _assigned(config)
    for b in enabled_backbones(config):
        found.setdefault(assigned[b], []).append(b)
    return {p: members for p, members in found.items() if members}


def recorded_members(config: dict, pass_name: str) -> list[str]:
    """The backbones whose settings and versions the pass records (module docstring)."""
    assigned = _assigned(config)
    return [
        b
        for b in backbones()
        if assigned[b] == pass_name and (backbone(b).paper or backbone_config(config, b)["enabled"])
    ]


def pass_settings(config: dict, pass_name: str) -> dict:
    """The pass's output-affecting settings (a recorded param): the decoder's, and those of each
    recorded member that has settings."""
    feats = config["features"]
    settings = {"device": feats["device"], "bf16": feats["bf16"], "decoder": feats["decoder"]}
    for b in recorded_members(config, pass_name):
        cfg, keys = backbone_config(config, b), backbone(b).setting_keys()
        if keys:
            settings[b] = {k: cfg[k] for k in keys}
    return settings


def pass_versions(config: dict, pass_name: str) -> dict[str, int]:
    """The output versions of the pass's recorded members, sorted by name (params are text)."""
    return {b: backbone(b).version for b in sorted(recorded_members(config, pass_name))}


def pass_outputs(config: dict, pass_name: str) -> dict[str, str]:
    """The pass's outputs: each of its enabled backbones' shard and failures table."""
    outputs = {}
    for b in passes(config).get(pass_name, []):
        folder = f"results/features/{b}/{{dataset}}"
        outputs[b] = f"{folder}/shard-{{shard}}.parquet"
        outputs[f"{b}_failures"] = f"{folder}/failures-{{shard}}.parquet"
    return outputs


def pass_args(config: dict, pass_name: str, output) -> list[str]:
    """The flags of `eao.features.extract` for the pass's backbones (derived from the outputs,
    so not recorded; the settings they carry are, in pass_settings). `output`: the job's outputs
    by name (pass_outputs)."""
    feats = config["features"]
    args = ["--device", feats["device"], "--decoder", feats["decoder"]]
    args += ["--bf16"] if feats["bf16"] else []
    for b in passes(config)[pass_name]:
        failures = output[f"{b}_failures"]
        args += ["--backbone", b, "--out", f"{b}={output[b]}", "--out-failures", f"{b}={failures}"]
        args += _setting_args(b, backbone_config(config, b))
    return args


def _setting_args(name: str, cfg: dict) -> list[str]:
    spec, args = backbone(name), []
    if spec.weighted:
        args += ["--weights", f"{name}={cfg['weights']}", "--seed", f"{name}={cfg['seed']}"]
    for s in spec.settings:
        args += [f"--{name}-{s.key}", str(cfg[s.key])]
    return args
