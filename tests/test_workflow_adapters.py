"""The rules' adapters (eao.workflow.adapters) and the config validation, on plain dicts:
wildcards as a SimpleNamespace, no DAG built. Snakemake decides from a params function's
parameter names whether to record it, so those names are pinned here too."""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.io import is_flagged
from snakemake.rules import Rule

from eao.backbones.registry import backbone, backbones, text_encoder
from eao.workflow import options as opt
from eao.workflow import passes, plan
from eao.workflow.adapters import Rules, workflow_error
from eao.workflow.config import validate_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = str(REPO / "workflow/schemas/config.schema.yaml")
SCHEMA = yaml.safe_load(Path(SCHEMA_PATH).read_text())
TINY = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
W = SimpleNamespace

# The params functions Snakemake must not record (functions of input, output or threads):
# runtime-only settings and values derived from the job's files.
DERIVED = {
    "demo_out_dir": ["wildcards", "output"],
    "out_dir": ["wildcards", "output"],
    "import_args": ["wildcards", "input"],
    "extract_runtime": ["wildcards", "threads"],
    "train_runtime": ["wildcards", "threads"],
    "pretrain_launcher": ["wildcards", "threads"],
    "model_out_dir": ["wildcards", "output"],
    "resume_dir": ["wildcards", "output"],
    "test_list_arg": ["wildcards", "input"],
    "checkpoint_trust": ["wildcards", "threads"],
    "finetune_runtime": ["wildcards", "threads"],
    "report_index_args": ["wildcards", "input"],
}
# Called when the rules are parsed, not per job.
PARSE_TIME = {
    "imported_checkpoint",
    "extraction_passes",
    "pass_outputs",
    "pass_settings",
    "pass_args",
    "retrieval_datasets",
    "evaluation_outputs",
    "report_outputs",
    "all_outputs",
    "version",
    "pass_weights_inputs",
    "pass_versions",
    "demo_outputs",
    "table_inputs",
}


class Named(dict):
    """A job's input or output as the adapters get it: by key and as attributes."""

    __getattr__ = dict.__getitem__


@pytest.fixture
def rules() -> Rules:
    return Rules.checked(copy.deepcopy(TINY), SCHEMA_PATH)


def test_the_rules_see_the_parameter_names_they_saw_as_plain_functions(rules):
    methods = {
        name: getattr(rules, name)
        for name, member in vars(Rules).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    job_functions = {n: m for n, m in methods.items() if n not in PARSE_TIME | {"dataset"}}
    derived = {n for n, m in job_functions.items() if Rule._is_deriving_function(m)}
    assert derived == set(DERIVED)
    for name, params in DERIVED.items():
        assert list(inspect.signature(methods[name]).parameters) == params, name
    for name in set(job_functions) - set(DERIVED):
        assert list(inspect.signature(methods[name]).parameters) == ["wildcards"], name


def test_checked_fills_the_defaults_in_place_and_plans_the_shards(rules):
    config = copy.deepcopy(TINY)
    checked = Rules.checked(config, SCHEMA_PATH)
    assert checked.config is config and config["probe"]["min_duration_s"] == 1.0
    assert checked.shards == plan.shards(config)
    assert checked.video_datasets == plan.video_datasets(config)
    assert checked.imported_datasets == ["released"]


def test_nested_cli_strings_are_typed_before_validation():
    config = copy.deepcopy(TINY)
    config["features"] = {**config["features"], "batch_size": "5", "resnet152": {"seed": "3"}}
    validate_config(config, SCHEMA, SCHEMA_PATH)
    assert config["features"]["batch_size"] == 5 and config["features"]["resnet152"]["seed"] == 3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"shard_sise": 3}, "Invalid config at the top level: Additional properties"),
        ({"shard_size": "many"}, "Invalid config at shard_size: 'many' is not of type"),
        ({"features": {"batch_size": "many"}}, "Invalid config at features.batch_size"),
        (
            {"datasets": {"mine": {"videos": "v.csv"}}},
            "Invalid config at datasets.mine: 'root' required",
        ),
        (
            {"ablations": {"run": ["nope"]}},
            "Invalid config at ablations.run: nope not in ablations.variants",
        ),
        (
            {"index": {"datasets": ["youcok2"]}},
            "Invalid config at index.datasets: unknown dataset 'youcok2' (the config's datasets: "
            "crosstask, howto, mining_youtube, msrvtt, released, youcook2)",
        ),
    ],
)
def test_a_bad_config_is_a_workflow_error_naming_the_key(change, message):
    config = copy.deepcopy(TINY)
    for key, value in change.items():
        config[key] = {**config[key], **value} if isinstance(config.get(key), dict) else value
    with pytest.raises(WorkflowError) as error:
        Rules.checked(config, SCHEMA_PATH)
    assert message in str(error.value)


def test_a_check_error_becomes_a_workflow_error_and_other_errors_pass():
    def check(value):
        if value < 0:
            raise ValueError("negative")
        return value * 2

    assert workflow_error(check, 2) == 4
    with pytest.raises(WorkflowError, match="^at x: negative$"):
        workflow_error(check, -1, prefix="at x: ")
    with pytest.raises(TypeError):
        workflow_error(check, "a")


def test_an_unknown_dataset_in_a_job_is_named_with_the_known_ones(rules):
    known = "(the config's datasets: crosstask, howto, mining_youtube, msrvtt, released, youcook2)"
    for adapter in (rules.dataset_inputs, rules.probe_failures, rules.index_inputs):
        with pytest.raises(WorkflowError) as error:
            adapter(W(dataset="youcok2"))
        assert str(error.value) == f"target: unknown dataset 'youcok2' {known}"
    assert rules.dataset_name(W(dataset="msrvtt")) == "msrvtt"


def test_data_adapters(rules):
    config, youcook2 = rules.config, W(dataset="youcook2")
    assert rules.demo_json(W()) == opt.demo_json(config)
    assert rules.demo_out_dir(W(), Named(world="results/demo_world/world.json")) == (
        "results/demo_world"
    )
    # the demo's release files read beside the captions, its rendered videos (a directory())
    release = {"release": ["results/demo_world/youcook2/val_clips.csv"]}
    assert rules.dataset_inputs(youcook2) == {
        **opt.dataset_inputs(config["datasets"]["youcook2"]),
        **release,
    }
    assert rules.dataset_videos(youcook2) == ["results/demo_world/youcook2/videos"]
    assert rules.dataset_videos(W(dataset="released")) == []
    outputs = rules.demo_outputs()
    assert is_flagged(outputs["youcook2_videos"], "directory")
    assert not is_flagged(outputs["youcook2_videos_csv"], "directory")
    assert outputs["world"] == "results/demo_world/world.json"
    assert rules.out_dir(W(), ["results/tables/t.md", "results/tables/t.csv"]) == "results/tables"
    assert rules.dataset_root(youcook2) == "results/demo_world/youcook2"
    assert rules.captions_arg(youcook2)[:2] == [
        "--captions",
        config["datasets"]["youcook2"]["captions"],
    ]
    assert rules.probe_failures(youcook2) == plan.probe_failures(rules.shards, "youcook2")
    released = W(dataset="released")
    assert rules.import_pickle(released) == opt.import_pickle(config, "released", None)
    assert rules.import_pickle(W(dataset="released", backbone="s3d")) == opt.import_pickle(
        config, "released", "s3d"
    )
    assert rules.import_split(released) == "validation"
    pickles = Named(resnet="released/youcook_val.pkl")
    assert rules.import_args(released, pickles) == opt.import_args(pickles)


def test_feature_adapters(rules):
    config, schema = rules.config, rules.schema
    assert rules.extraction_passes() == ["media"]
    assert rules.pass_outputs("media") == passes.pass_outputs(config, "media")
    assert rules.pass_settings("media") == passes.pass_settings(config, "media")
    assert rules.extract_failures(W(dataset="howto")) == plan.extract_failures(
        config, schema, rules.shards, "howto"
    )
    outputs = Named(
        {
            k: v.format(dataset="howto", shard="00000")
            for k, v in rules.pass_outputs("media").items()
        }
    )
    args = rules.pass_args("media")
    assert args(W(), outputs) == passes.pass_args(config, "media", outputs)
    assert rules.extract_runtime(W(), 2) == opt.extract_runtime(config)
    clip = W(encoder="clip")
    assert rules.text_weights_input(clip) == opt.text_weights_input(config, schema, "clip")
    assert "--tokenizer" in rules.text_options(clip)
    # word2vec `random`: no file to convert, an empty input and a None param as before
    assert rules.word2vec_input(W(w2v="x")) == [] and rules.word2vec_source(W(w2v="x")) is None


def test_training_adapters(rules):
    config, tv = rules.config, W(variant="tv")
    assert rules.pretrain_inputs(tv) == plan.pretrain_inputs(config, rules.shards, "tv")
    assert rules.model_config(tv) == opt.model_config(config, "tv")
    assert rules.train_config(tv) == opt.train_config(config, "tv")
    assert rules.train_runtime(tv, 2) == opt.train_config(config, "tv", runtime=True)
    assert rules.pretrain_processes(tv) == opt.pretrain_processes(config)
    assert rules.pretrain_launcher(tv, 2) == opt.pretrain_launcher(config)
    assert rules.model_out_dir(tv, Named(model="results/pretrain/tv/model.pt")) == (
        "results/pretrain/tv"
    )
    ft = W(variant="main", dataset="youcook2")
    assert rules.finetune_inputs(ft) == plan.finetune_inputs(
        config, rules.shards, "main", "youcook2"
    )
    assert rules.finetune_config(ft) == opt.finetune_config(config, "main", "youcook2")
    assert rules.finetune_runtime(ft, 2) == opt.finetune_config(
        config, "main", "youcook2", runtime=True
    )
    assert rules.finetune_options(ft) == opt.finetune_options(config, "youcook2")


def test_an_unknown_pretraining_corpus_is_named(rules):
    rules.config["pretrain"]["dataset"] = "hwoto"  # after the checks: as a target would
    with pytest.raises(WorkflowError, match="target: unknown dataset 'hwoto'"):
        rules.pretrain_inputs(W(variant="main"))


def test_checkpoint_trust_is_a_flag_of_the_config(rules):
    assert rules.imported_checkpoint() is None
    assert rules.checkpoint_trust(W(), 1) == ""
    rules.config["pretrain"]["checkpoint_trust_pickle"] = True
    assert rules.checkpoint_trust(W(), 1) == "--trust-pickle"


def test_evaluation_and_report_adapters(rules):
    config, shards = rules.config, rules.shards
    w = W(stage="zeroshot", variant="main", dataset="youcook2", strategy="uniform")
    assert rules.retrieval_inputs(w) == plan.retrieval_inputs(
        config, shards, "zeroshot", "main", "youcook2"
    )
    assert rules.retrieval_options(w) == opt.retrieval_options(
        config, "zeroshot", "main", "youcook2", "uniform"
    )
    loc = W(variant="main", dataset="crosstask")
    assert rules.localization_inputs(loc) == plan.localization_inputs(
        config, shards, "main", "crosstask"
    )
    assert rules.localization_options(loc) == opt.localization_options(config, "main", "crosstask")
    assert rules.index_inputs(W(dataset="youcook2")) == plan.index_inputs(
        config, shards, "youcook2"
    )
    assert rules.index_options(W()) == opt.index_options(config)
    assert rules.retrieval_datasets() == plan.retrieval_datasets(config)
    assert rules.evaluation_outputs() == plan.evaluation_outputs(config)
    assert rules.table_inputs() == opt.table_inputs(config)
    assert rules.report_outputs() == plan.report_outputs(config)
    assert rules.all_outputs() == plan.all_outputs(config, rules.schema, shards)
    assert rules.report_inputs(W()) == plan.report_inputs(config, shards)
    assert rules.report_options(W()) == opt.report_options(config)
    assert rules.tables_config(W()) == opt.tables_config(config)


def test_for_the_snakefile_a_bad_config_is_its_line_on_stderr_and_status_1(capsys):
    config = copy.deepcopy(TINY)
    config["ablations"]["variants"]["tv"]["pretrain"]["video_3d"] = "i3d"
    with pytest.raises(SystemExit) as stop:
        Rules.for_snakefile(config, SCHEMA_PATH)
    assert stop.value.code == 1
    assert capsys.readouterr().err == (
        "Invalid config at ablations.variants.tv.pretrain.video_3d: "
        "'i3d' is not one of ['resnext101', 's3d', None]\n"
    )
    rules = Rules.for_snakefile(copy.deepcopy(TINY), SCHEMA_PATH)
    assert rules.pretrainable_variants == ["main", "tv", "s3d"]


def test_each_stage_records_its_output_version(rules):

    assert rules.pass_versions("media") == {b: backbone(b).version for b in sorted(backbones())}
    assert rules.text_version(Named(encoder="clip")) == text_encoder("clip").version
    # every rule records its stage's version: a rule added without one reruns on no upgrade
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for rule in re.split(r"\n\s*rule ", smk.read_text())[1:]:
            recorded = re.search(r"\bversions?=R\.(version|pass_versions|text_version)\b", rule)
            assert recorded, f"{smk.name}: rule {rule.split(':')[0]} records no output version"
