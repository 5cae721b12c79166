"""The names the workflow's rules call, as methods of one object built from the validated config.

`Rules.checked` validates the config (eao.workflow.config) and checks it; the methods are thin
adapters from Snakemake's calling convention (wildcards, and `input`, `output` or `threads`
where a rule needs them) to the plain functions of eao.workflow.plan and .options, with the
config, schema and shard plan passed along. A check's ValueError stops the DAG as a
WorkflowError with the same message.

Snakemake looks at a params function's parameter NAMES: a function of input, output, threads
or resources is "derived" and not recorded, so changing what it returns reruns nothing. The
`threads` parameters below are unused on purpose (runtime-only settings, see options.py); a
bound method's signature has no `self`, so Snakemake sees the same names as a plain function.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from snakemake.exceptions import WorkflowError
from snakemake.io import directory

from eao.backbones.registry import text_encoder
from eao.train.state import RESUME_DIR
from eao.versions import output_version
from eao.workflow import demo_files, passes, plan
from eao.workflow import options as opt
from eao.workflow.checks import run_problems
from eao.workflow.config import (
    check_dataset,
    check_dataset_references,
    check_dataset_sources,
    coerce_cli_strings,
    coerce_variant_overrides,
    validate_config,
)
from eao.workflow.demo_config import apply_demo
from eao.workflow.schema_blocks import current_schema
from eao.workflow.variants import check_variants, variant_section

T = TypeVar("T")


def workflow_error(check: Callable[..., T], *args: Any, prefix: str = "") -> T:
    """Run a check of the config; its ValueError stops the DAG as a WorkflowError."""
    try:
        return check(*args)
    except ValueError as e:
        raise WorkflowError(f"{prefix}{e}") from None


class Rules:
    """The adapters of one run: `config` validated (the schema's defaults filled), `schema` the
    config schema, `shards` each dataset's shard ids (plan.shards)."""

    def __init__(self, config: dict, schema: dict, shards: plan.Shards) -> None:
        self.config, self.schema, self.shards = config, schema, shards
        self.video_datasets = plan.video_datasets(config)
        self.imported_datasets = plan.imported_datasets(config)
        self.pretrainable_variants = plan.pretrainable_variants(config)

    @classmethod
    def checked(cls, config: dict, schema_path: str) -> Rules:
        """Complete `config` in place (nested --config strings typed, the demo's datasets and
        settings added under what it names, the schema's defaults filled), check what the
        schema cannot (dataset sources, variants, dataset references, what the run schedules:
        eao.workflow.checks) and build the adapters. A problem stops the DAG as a WorkflowError
        naming the key: the first one found, or every problem of the run checks, one a line."""
        schema, schema_path = workflow_error(current_schema, schema_path)
        given = json.loads(json.dumps(dict(config)))  # as named: config.yaml and the user's files
        config.update(coerce_cli_strings(dict(config), schema, schema))  # demo.enabled typed
        apply_demo(config, schema)
        validate_config(config, schema, schema_path)
        workflow_error(check_dataset_sources, config)
        coerce_variant_overrides(config, schema)
        workflow_error(check_variants, config, schema)
        workflow_error(check_dataset_references, config, given, prefix="Invalid config at ")
        problems = run_problems(config, schema, given)
        if problems:
            raise WorkflowError("\n".join(problems))
        shards = workflow_error(plan.shards, config)
        return cls(config, schema, shards)

    @classmethod
    def for_snakefile(cls, config: dict, schema_path: str) -> Rules:
        """`checked`, for the Snakefile: a config problem ends snakemake with its line(s) on
        stderr and exit status 1. Raised, it would come with Snakemake's traceback lines after
        it, and the message must be the last thing the user reads."""
        try:
            return cls.checked(config, schema_path)
        except WorkflowError as e:
            print(e, file=sys.stderr)
            raise SystemExit(1) from None

    def dataset(self, name: str, where: str = "target") -> dict:
        """The settings of dataset `name`; an unknown name stops the DAG with the known ones."""
        return workflow_error(check_dataset, self.config, name, where)

    def dataset_name(self, wildcards) -> str:
        """The job's dataset, checked: an unknown one stops the DAG naming the known ones."""
        self.dataset(wildcards.dataset)
        return wildcards.dataset

    # -- evaluated when the rules are parsed --------------------------------------------------
    def version(self, key: str) -> int:
        """The output version of a stage (eao.versions), a value param: bumping it reruns."""
        return output_version(key)

    def pass_versions(self, pass_name: str) -> dict[str, int]:
        """An extraction pass's versions: those of the backbones whose settings it records
        (eao.workflow.passes), so bumping one reruns its pass only."""
        return passes.pass_versions(self.config, pass_name)

    def imported_checkpoint(self) -> str | None:
        return plan.imported_checkpoint(self.config)

    def demo_outputs(self) -> dict:
        """demo_world's outputs (eao.workflow.demo_files), a folder as a directory()."""
        return {
            name: directory(path.rstrip("/")) if path.endswith("/") else path
            for name, path in demo_files.outputs().items()
        }

    def extraction_passes(self) -> list[str]:
        """The extraction passes that have a backbone, one rule each (extract_<pass>)."""
        return list(passes.passes(self.config))

    def pass_outputs(self, pass_name: str) -> dict[str, str]:
        return passes.pass_outputs(self.config, pass_name)

    def pass_weights_inputs(self, pass_name: str) -> list[str]:
        return opt.pass_weights_inputs(self.config, pass_name)

    def pass_settings(self, pass_name: str) -> dict:
        return passes.pass_settings(self.config, pass_name)

    def retrieval_datasets(self) -> list[str]:
        return plan.retrieval_datasets(self.config)

    def evaluation_outputs(self) -> list[str]:
        return plan.evaluation_outputs(self.config)

    def table_inputs(self) -> list[str]:
        return opt.table_inputs(self.config)

    def report_outputs(self) -> list[str]:
        return plan.report_outputs(self.config)

    def all_outputs(self) -> list[str]:
        return plan.all_outputs(self.config, self.schema, self.shards)

    # -- data ---------------------------------------------------------------------------------
    def demo_json(self, wildcards) -> str:
        return opt.demo_json(self.config)

    def demo_out_dir(self, wildcards, output) -> str:
        return os.path.dirname(output.world)

    def out_dir(self, wildcards, output) -> str:
        """The folder of the job's first output, for a tool that names its files itself
        (eao.tables, eao.report): every file it writes there is a declared output."""
        return os.path.dirname(output[0])

    def dataset_inputs(self, wildcards) -> dict[str, str | list[str]]:
        """The videos CSV, the captions and, for the demo's files, the release files that the
        captions' readers find beside them."""
        release = demo_files.release_files(self.config, self.dataset_name(wildcards))
        return {**opt.dataset_inputs(self.dataset(wildcards.dataset)), "release": release}

    def dataset_videos(self, wildcards) -> list[str]:
        """The demo's rendered videos folder of the dataset ([] for external videos)."""
        return demo_files.videos(self.config, self.dataset_name(wildcards))

    def dataset_root(self, wildcards) -> str:
        return self.dataset(wildcards.dataset)["root"]

    def captions_arg(self, wildcards) -> list[str]:
        return opt.captions_arg(self.dataset(wildcards.dataset))

    def probe_failures(self, wildcards) -> list[str]:
        return plan.probe_failures(self.shards, self.dataset_name(wildcards))

    def import_pickle(self, wildcards) -> dict[str, str]:
        backbone = getattr(wildcards, "backbone", None)  # import_manifest has none
        return opt.import_pickle(self.config, self.dataset_name(wildcards), backbone)

    def import_args(self, wildcards, input) -> list[str]:
        return opt.import_args(input)

    def import_split(self, wildcards) -> str:
        return plan.imported(self.config, wildcards.dataset)["split"]

    # -- features -----------------------------------------------------------------------------
    def extract_failures(self, wildcards) -> list[str]:
        name = self.dataset_name(wildcards)
        return plan.extract_failures(self.config, self.schema, self.shards, name)

    def pass_args(self, pass_name: str):
        """The pass's command-line flags, a function of the job's outputs (not recorded)."""

        def args(wildcards, output) -> list[str]:
            return passes.pass_args(self.config, pass_name, output)

        return args

    def extract_runtime(self, wildcards, threads) -> list[str]:
        return opt.extract_runtime(self.config)

    def text_weights_input(self, wildcards) -> list[str]:
        return opt.text_weights_input(self.config, self.schema, wildcards.encoder)

    def text_version(self, wildcards) -> int:
        """A function of wildcards only, so recorded: the encoder's output version."""
        return text_encoder(wildcards.encoder).version

    def text_options(self, wildcards) -> list[str]:
        return opt.text_options(self.config, self.schema, wildcards.encoder)

    def word2vec_input(self, wildcards) -> str | list[str]:
        return opt.word2vec_source(self.config, self.schema) or []

    def word2vec_source(self, wildcards) -> str | None:
        return opt.word2vec_source(self.config, self.schema)

    # -- training -----------------------------------------------------------------------------
    def pretrain_inputs(self, wildcards) -> dict[str, list[str]]:
        self.dataset(variant_section(self.config, wildcards.variant, "pretrain")["dataset"])
        return plan.pretrain_inputs(self.config, self.shards, wildcards.variant)

    def model_config(self, wildcards) -> str:
        return opt.model_config(self.config, wildcards.variant)

    def train_config(self, wildcards) -> str:
        return opt.train_config(self.config, wildcards.variant)

    def train_runtime(self, wildcards, threads) -> str:
        return opt.train_config(self.config, wildcards.variant, runtime=True)

    def pretrain_processes(self, wildcards) -> int:
        return opt.pretrain_processes(self.config)

    def pretrain_launcher(self, wildcards, threads) -> str:
        return opt.pretrain_launcher(self.config)

    def model_out_dir(self, wildcards, output) -> str:
        return os.path.dirname(output.model)

    def resume_dir(self, wildcards, output) -> str:
        """An unfinished training job's checkpoints (workflow/rules/train.smk): absolute, so a
        job run in a shadow directory keeps them where its rerun looks; where the working
        directory is changes no output, and a function of output is not recorded."""
        return os.path.abspath(os.path.join(os.path.dirname(output.model), RESUME_DIR))

    def checkpoint_trust(self, wildcards, threads) -> str:
        """Whether the import may unpickle objects, not what it writes: not recorded."""
        return "--trust-pickle" if self.config["pretrain"]["checkpoint_trust_pickle"] else ""

    def finetune_inputs(self, wildcards) -> dict:
        name = self.dataset_name(wildcards)
        return plan.finetune_inputs(self.config, self.shards, wildcards.variant, name)

    def finetune_config(self, wildcards) -> str:
        return opt.finetune_config(self.config, wildcards.variant, wildcards.dataset)

    def finetune_runtime(self, wildcards, threads) -> str:
        w = wildcards
        return opt.finetune_config(self.config, w.variant, w.dataset, runtime=True)

    def finetune_options(self, wildcards) -> list[str]:
        return opt.finetune_options(self.config, wildcards.dataset)

    # -- evaluation, index, report and tables -------------------------------------------------
    def retrieval_inputs(self, wildcards) -> dict:
        w, name = wildcards, self.dataset_name(wildcards)
        return plan.retrieval_inputs(self.config, self.shards, w.stage, w.variant, name)

    def retrieval_options(self, wildcards) -> list[str]:
        w = wildcards
        return opt.retrieval_options(self.config, w.stage, w.variant, w.dataset, w.strategy)

    def localization_inputs(self, wildcards) -> dict:
        name = self.dataset_name(wildcards)
        return plan.localization_inputs(self.config, self.shards, wildcards.variant, name)

    def localization_options(self, wildcards) -> list[str]:
        return opt.localization_options(self.config, wildcards.variant, wildcards.dataset)

    def test_list_arg(self, wildcards, input) -> list[str]:
        """--test-list from the input of that name (its path and times are what reruns)."""
        return ["--test-list", *input.test_list] if input.test_list else []

    def index_inputs(self, wildcards) -> dict:
        return plan.index_inputs(self.config, self.shards, self.dataset_name(wildcards))

    def index_options(self, wildcards) -> list[str]:
        return opt.index_options(self.config)

    def report_inputs(self, wildcards) -> dict:
        return plan.report_inputs(self.config, self.shards)

    def report_options(self, wildcards) -> list[str]:
        return opt.report_options(self.config)

    def report_index_args(self, wildcards, input) -> list[str]:
        return opt.report_index_args(self.config, input)

    def tables_config(self, wildcards) -> str:
        return opt.tables_config(self.config)
