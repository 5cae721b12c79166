# Validation, then the names the rules call: thin adapters (wildcards in; config, schema and
# shards passed along; errors as WorkflowError) of eao.workflow's plain, tested functions of the
# validated config: plan (datasets, shards, inputs, outputs), variants, options (rule options
# and recorded params). Tests: tests/test_workflow_*.py.

import json
import os
import sys

import yaml

import eao
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from eao.workflow import options as opt, plan
from eao.workflow.config import (
    check_dataset,
    check_dataset_references,
    check_dataset_sources,
    coerce_cli_strings,
    coerce_variant_overrides,
)
from eao.workflow.options import MODEL_DEFINING_KEYS, TRAIN_KEYS, TRAIN_RUNTIME_KEYS
from eao.workflow.plan import (
    DEMO_DIR,
    IMPORTED_BACKBONES,
    MEDIA_BACKBONES,
    TABLE_FILES,
    TABLE_NAMES,
    TEXT_ENCODERS,
    VISUAL_BACKBONES,
    one_of,
)
from eao.workflow.variants import check_variants, section_keys, variant_names, variant_section

with open(os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")) as f:
    SCHEMA = yaml.safe_load(f)


def validate_config():
    """Validate against the schema (filling defaults); on error name the key, not the schema dump.
    Nested `--config` values arrive as strings (YAML BaseLoader): they are read again first."""
    config.update(coerce_cli_strings(dict(config), SCHEMA, SCHEMA))
    try:
        validate(config, "../schemas/config.schema.yaml")
    except WorkflowError as e:
        cause = e.__context__  # snakemake raises while handling jsonschema's ValidationError
        if not hasattr(cause, "absolute_path"):
            raise
        where = ".".join(str(p) for p in cause.absolute_path) or "the top level"
        raise WorkflowError(
            f"Invalid config at {where}: {cause.message}. "
            "Keys and types: workflow/schemas/config.schema.yaml (README: Configuration)."
        ) from None


def config_error(check, *args, prefix=""):
    """Run a check of the config; its ValueError stops the DAG as a WorkflowError."""
    try:
        return check(*args)
    except ValueError as e:
        raise WorkflowError(f"{prefix}{e}") from None


GIVEN = json.loads(json.dumps(dict(config)))  # the user's config, before the schema's defaults
validate_config()
config_error(check_dataset_sources, config)
coerce_variant_overrides(config, SCHEMA)
SECTION_KEYS = section_keys(SCHEMA)  # the keys an ablation variant may override


# Jobs call `python -m eao...`: put the interpreter running snakemake (the project's venv) first
# on PATH, so that works without activating the venv; envvars passes PATH on to cluster jobs.
envvars:
    "PATH",


SEARCH_PATH = os.environ["PATH"]
os.environ.update(PATH=os.pathsep.join([os.path.dirname(sys.executable), SEARCH_PATH]))


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    shard=r"\d{5}",
    encoder=r"hf|word2vec|clip",
    variant=r"[A-Za-z0-9_]+",
    w2v=r"[^/]+",
    stage=r"zeroshot|finetuned",
    strategy=r"at_once|uniform|max_pool|clips",


EAO_VERSION = eao.__version__
VIDEO_DATASETS, IMPORTED_DATASETS = plan.video_datasets(config), plan.imported_datasets(config)
SHARDS = config_error(plan.shards, config)
config_error(check_variants, config, SCHEMA)
config_error(check_dataset_references, config, GIVEN, prefix="Invalid config at ")


def dataset(name, where="target"):
    """The settings of dataset `name`; an unknown name stops the DAG with the known ones named."""
    return config_error(check_dataset, config, name, where)


# -- data and features: the rules' names for eao.workflow.plan and .options -----------------------
def imported(name):
    return plan.imported(config, name)


def imported_checkpoint():
    return plan.imported_checkpoint(config)


def enabled_backbones():
    return plan.enabled_backbones(config, SCHEMA)


def media_outputs():
    return plan.media_outputs(config, SCHEMA)


def media_settings():
    return opt.media_settings(config, SCHEMA)


def word2vec_source():
    return opt.word2vec_source(config, SCHEMA)


def demo_json(wildcards):
    return opt.demo_json(config)


def demo_out_dir(wildcards, output):
    return os.path.dirname(output.world)


def dataset_inputs(wildcards):
    return opt.dataset_inputs(dataset(wildcards.dataset))


def dataset_root(wildcards):
    return dataset(wildcards.dataset)["root"]


def captions_arg(wildcards):
    return opt.captions_arg(dataset(wildcards.dataset))


def probe_failures(wildcards):
    return plan.probe_failures(SHARDS, dataset_name(wildcards))


def extract_failures(wildcards):
    return plan.extract_failures(config, SCHEMA, SHARDS, dataset_name(wildcards))


def import_pickle(wildcards):
    return opt.import_pickle(config, dataset_name(wildcards), wildcards.get("backbone"))


def import_args(wildcards, input):
    return opt.import_args(input)


def media_args(wildcards, output):
    return opt.media_args(config, SCHEMA, output)


def extract_runtime(wildcards, threads):
    return opt.extract_runtime(config)


def text_weights_input(wildcards):
    return opt.text_weights_input(config, SCHEMA, wildcards.encoder)


def text_options(wildcards):
    return opt.text_options(config, SCHEMA, wildcards.encoder)


def dataset_name(wildcards):
    """The job's dataset, checked: an unknown one stops the DAG naming the known ones."""
    dataset(wildcards.dataset)
    return wildcards.dataset


# -- training, evaluation, index, report and tables -----------------------------------------------
def pretrain_inputs(wildcards):
    dataset(variant_section(config, wildcards.variant, "pretrain")["dataset"])
    return plan.pretrain_inputs(config, SHARDS, wildcards.variant)


def model_config(wildcards):
    return opt.model_config(config, wildcards.variant)


def train_config(wildcards):
    return opt.train_config(config, wildcards.variant)


def train_runtime(wildcards, threads):
    return opt.train_config(config, wildcards.variant, runtime=True)


def pretrain_processes(wildcards):
    return opt.pretrain_processes(config)


def pretrain_launcher(wildcards, threads):
    return opt.pretrain_launcher(config)


def finetune_inputs(w):
    return plan.finetune_inputs(config, SHARDS, w.variant, dataset_name(w))


def finetune_config(w):
    return opt.finetune_config(config, w.variant, w.dataset)


def finetune_runtime(w, threads):
    return opt.finetune_config(config, w.variant, w.dataset, runtime=True)


def finetune_options(w):
    return opt.finetune_options(config, w.dataset)


def retrieval_inputs(w):
    return plan.retrieval_inputs(config, SHARDS, w.stage, w.variant, dataset_name(w))


def retrieval_options(w):
    return opt.retrieval_options(config, w.stage, w.variant, w.dataset, w.strategy)


def localization_inputs(w):
    return plan.localization_inputs(config, SHARDS, w.variant, dataset_name(w))


def localization_options(w):
    return opt.localization_options(config, w.variant, w.dataset)


def index_inputs(w):
    return plan.index_inputs(config, SHARDS, dataset_name(w))


def index_options(w):
    return opt.index_options(config)


def retrieval_datasets():
    return plan.retrieval_datasets(config)


def evaluation_outputs():
    return plan.evaluation_outputs(config)


def report_inputs(wildcards):
    return plan.report_inputs(config, SHARDS)


def report_options(wildcards):
    return opt.report_options(config)


def report_index_args(wildcards, input):
    return opt.report_index_args(config, input)


def report_outputs():
    return plan.report_outputs(config)


def tables_config(wildcards):
    return opt.tables_config(config)


def all_outputs():
    return plan.all_outputs(config, SCHEMA, SHARDS)
