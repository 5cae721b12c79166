"""The model variants of a run: `main` is the config's model and pretrain sections; an ablation
variant is main with the overrides of `ablations.variants.<name>` (run when listed in
`ablations.run`). Plain functions of the validated config (the schema's defaults filled)."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from eao.tables import variants_read

SECTIONS = ("model", "pretrain")


def section_keys(schema: dict) -> dict[str, list[str]]:
    """The keys an ablation variant may override: those of the main model and pretrain
    sections."""
    return {s: list(schema["properties"][s]["properties"]) for s in SECTIONS}


def variant_names(config: dict) -> list[str]:
    return ["main", *config["ablations"]["run"]]


def pretrained_variants(config: dict) -> list[str]:
    return variant_names(config)


def check_variants(config: dict, schema: dict) -> None:
    """ValueError ("Invalid config at ...") for a variant run or fine-tuned that is not defined,
    or an override of a key the model and pretrain sections do not have."""
    variants, keys = config["ablations"]["variants"], section_keys(schema)
    unknown = [v for v in config["ablations"]["run"] if v not in variants]
    if unknown:
        raise ValueError(
            f"Invalid config at ablations.run: {', '.join(unknown)} not in ablations.variants"
        )
    for name, spec in variants.items():
        for section in SECTIONS:
            extra = sorted(set(spec[section]) - set(keys[section]))
            if extra:
                raise ValueError(
                    f"Invalid config at ablations.variants.{name}.{section}: unknown keys "
                    f"{', '.join(extra)} (keys of the {section} section only)"
                )
    check_variant_values(config, schema)
    bad = [v for v in config["finetune"]["variants"] if v != "main" and v not in variants]
    if bad:
        raise ValueError(
            f"Invalid config at finetune.variants: {', '.join(bad)} not in ablations.variants"
        )


def check_variant_values(config: dict, schema: dict) -> None:
    """ValueError ("Invalid config at ablations.variants.<name>.<section>.<key>: ...") for the
    first variant whose merged section (main's with its overrides) the schema's definition of
    that section refuses: an override gets the checks of the key it overrides (choices, types,
    bounds), which the schema, typing overrides only as objects, does not apply."""
    for name, spec in config["ablations"]["variants"].items():
        for section in SECTIONS:
            if not spec[section]:
                continue
            node = {**schema["properties"][section], "$defs": schema.get("$defs", {})}
            merged = variant_section(config, name, section)
            errors = Draft202012Validator(node).iter_errors(merged)
            error = min(errors, key=lambda e: [str(p) for p in e.path], default=None)
            if error:
                where = ".".join(str(p) for p in (name, section, *error.absolute_path))
                raise ValueError(f"Invalid config at ablations.variants.{where}: {error.message}")


def variant_section(config: dict, variant: str, section: str) -> dict:
    """The config section (model or pretrain) of a variant: main's with the variant's overrides."""
    overrides = {} if variant == "main" else config["ablations"]["variants"][variant][section]
    return {**config[section], **overrides}


def finetune_variants(config: dict) -> list[str]:
    """The variants fine-tuned: those of finetune.variants that are run."""
    names = variant_names(config)
    return [v for v in config["finetune"]["variants"] if v in names]


def localization_variants(config: dict) -> list[str]:
    """The variants the tables read step localization of (Table 3: main and, when it is run,
    the S3D variant's 'Ours (S3D)' row)."""
    return [v for v in variants_read("localization") if v in variant_names(config)]


def long_video_variants(config: dict) -> list[str]:
    """The variants evaluated with Table 6's long-video strategies (main and, when it is run,
    the pos_emb variant)."""
    return [v for v in variants_read("zeroshot", long_videos=True) if v in variant_names(config)]
