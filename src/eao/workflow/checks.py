"""Checks of the run a validated config describes: nothing it schedules is bound to fail.

Each function takes the config with the schema's defaults filled (and the demo's part added,
eao.workflow.demo_config) and returns its problems, each one line `Invalid config at <key>:
<why>`, so that all of them are reported at once, before any job runs (adapters.Rules.checked).
What they catch would otherwise surface late: an input function that raises while the DAG is
built (Snakemake prints it and goes on), a MissingInputException, or a job that fails at run
time (an import of a backbone the released pickles do not hold, an evaluation with no clip).
"""

from __future__ import annotations

import re

from eao.backbones.registry import backbone as registered
from eao.workflow import plan
from eao.workflow.passes import check_passes, enabled_backbones
from eao.workflow.variants import variant_section

SLOTS = ("video_2d", "video_3d", "audio", "text")
RETRIEVAL_OUTPUT = re.compile(r"results/evaluate/retrieval/(\w+)/(\w+)/(\w+)/\w+\.json")
LOCALIZATION_OUTPUT = re.compile(r"results/evaluate/localization/(\w+)/(\w+)\.json")


def trained_variants(config: dict) -> list[str]:
    """The variants this run pretrains: main unless imported, and each variant run."""
    if not plan.can_pretrain(config):
        return []  # a config of only uncaptioned videos stops after extraction
    imported = plan.imported_checkpoint(config)
    return [v for v in plan.pretrained_variants(config) if not (v == "main" and imported)]


def variant_uses(config: dict) -> list[tuple[str, str, str]]:
    """(variant, dataset, how) for every dataset a model of this run is pretrained, fine-tuned
    or evaluated on, read from the outputs the run asks for (plan.evaluation_outputs), so it
    says what is scheduled whatever decides that."""
    if not plan.can_pretrain(config):
        return []
    uses = [
        (v, variant_section(config, v, "pretrain")["dataset"], "pretrained on")
        for v in trained_variants(config)
    ]
    for path in plan.evaluation_outputs(config):
        if match := RETRIEVAL_OUTPUT.fullmatch(path):
            stage, variant, dataset = match.groups()
            how = "fine-tuned and evaluated on" if stage == "finetuned" else "evaluated on"
            uses.append((variant, dataset, how))
        elif match := LOCALIZATION_OUTPUT.fullmatch(path):
            uses.append((match[1], match[2], "evaluated on"))
    uses += [("main", name, "indexed with") for name in config["index"]["datasets"]]
    if plan.retrieval_datasets(config):  # the report's attention analysis
        uses.append(("main", plan.attention_dataset(config), "analysed on"))
    return list(dict.fromkeys(uses))


def feature_key(config: dict, variant: str, slot: str) -> str:
    """The key that chose the variant's features of `slot`: its override, else main's."""
    overrides = {} if variant == "main" else config["ablations"]["variants"][variant]["pretrain"]
    return (
        f"ablations.variants.{variant}.pretrain.{slot}" if slot in overrides else f"pretrain.{slot}"
    )


def missing_feature(config: dict, schema: dict, dataset: str, slot: str, feature: str) -> str:
    """Why `dataset` has no shards of `feature` (a backbone, or a text encoder for the text
    slot), or "" when it has them."""
    if slot == "text":
        if feature in plan.enabled_text_encoders(config):
            return ""
        return f"text encoder {feature} is not enabled (features.text.{feature}.enabled)"
    if plan.imported(config, dataset):
        held = plan.dataset_backbones(config, schema, dataset)
        if feature in held:
            return ""
        released = registered(feature).released
        fix = f"add datasets.{dataset}.imported.{released[0]}" if released else "none is released"
        holds = ", ".join(held)
        return f"the released features of {dataset} hold no {feature} (they hold {holds}; {fix})"
    if feature in enabled_backbones(config):
        return ""
    return f"{feature} is not extracted (features.{feature}.enabled is false)"


def feature_problems(config: dict, schema: dict) -> list[str]:
    """Every variant's features are enabled and held by each dataset it is pretrained,
    fine-tuned or evaluated on (an imported dataset holds those of its pickles): one line per
    key that chose a missing feature."""
    problems: dict[str, str] = {}
    for variant, dataset, how in variant_uses(config):
        if dataset not in config["datasets"]:
            continue  # an unknown corpus: corpus_problems
        section = variant_section(config, variant, "pretrain")
        for slot in SLOTS:
            feature = section[slot]
            why = feature and missing_feature(config, schema, dataset, slot, feature)
            key = feature_key(config, variant, slot)
            if why and key not in problems:
                model = "the main model" if variant == "main" else f"the variant {variant}"
                problems[key] = f"Invalid config at {key}: {why}, and {model} is {how} {dataset}"
    return list(problems.values())


def pass_problems(config: dict) -> list[str]:
    """features.passes names passes, backbones and each backbone once (eao.workflow.passes)."""
    why = check_passes(config)
    return [f"Invalid config at {why}"] if why else []


def corpus_problems(config: dict) -> list[str]:
    """Every variant this run pretrains has a corpus among the datasets, with captions."""
    problems: dict[str, list[str]] = {}
    for variant in trained_variants(config):
        corpus = variant_section(config, variant, "pretrain")["dataset"]
        problems.setdefault(corpus, []).append(variant)
    lines = []
    for corpus, variants in problems.items():
        key = "pretrain.dataset"
        if corpus != config["pretrain"]["dataset"]:
            key = f"ablations.variants.{variants[0]}.pretrain.dataset"
        names = ", ".join(variants)
        if corpus not in config["datasets"]:
            known = ", ".join(sorted(config["datasets"]))
            lines.append(
                f"Invalid config at {key}: unknown dataset {corpus!r} (the config's "
                f"datasets: {known}), and {names} would be pretrained on it"
            )
        elif not plan.captioned(config, corpus):
            lines.append(
                f"Invalid config at {key}: {corpus} has no captions (datasets.{corpus}."
                f"captions), and {names} would be pretrained on it"
            )
    return lines


def benchmark_problems(config: dict, given: dict) -> list[str]:
    """The benchmarks a run evaluates can be: a fine-tuning dataset the config names is one of
    its retrieval benchmarks and not released features (those hold an evaluation split only;
    the defaults' entries skip them: plan.finetune_datasets); released features are not used
    for step localization; an imported benchmark is evaluated on the split its features are
    of. `given`: the config as the user's files name it (before the schema's defaults)."""
    lines = []
    retrieval = plan.retrieval_datasets(config)
    for name in (given.get("finetune") or {}).get("datasets") or {}:
        if name in config["datasets"] and plan.imported(config, name):
            lines.append(
                f"Invalid config at finetune.datasets.{name}: {name} is released "
                f"evaluation features (datasets.{name}.imported), nothing to "
                "fine-tune on"
            )
        elif name not in retrieval:
            lines.append(
                f"Invalid config at finetune.datasets.{name}: not a retrieval benchmark "
                f"of this run (those: {', '.join(retrieval) or 'none'}; a dataset with "
                "captions and an evaluate.retrieval entry)"
            )
    for name in plan.localization_datasets(config):
        if plan.imported(config, name):
            lines.append(
                f"Invalid config at evaluate.localization.{name}: {name} is released "
                "retrieval features (imported); step localization needs its videos "
                "and annotations"
            )
    for name in retrieval:
        spec = plan.imported(config, name)
        split = config["evaluate"]["retrieval"][name].get("split")
        if spec and split and split != spec["split"]:
            lines.append(
                f"Invalid config at evaluate.retrieval.{name}.split: {split}, but the "
                f"released features of {name} are its {spec['split']} split "
                f"(datasets.{name}.imported.split): no clip to evaluate"
            )
    return lines


def run_problems(config: dict, schema: dict, given: dict) -> list[str]:
    """All of the above, corpus first (the others skip a variant whose corpus is unknown)."""
    return (
        pass_problems(config)
        + corpus_problems(config)
        + feature_problems(config, schema)
        + benchmark_problems(config, given)
    )
