# The config validated and checked, then `R`, whose methods the rules call: thin adapters
# (eao.workflow.adapters.Rules) from Snakemake's wildcards, input, output and threads to the
# plain, tested functions of eao.workflow (plan: datasets, shards, inputs and outputs; options:
# rule options and recorded params). Tests: tests/test_workflow_*.py.

import os
import sys

from eao.workflow.adapters import Rules
from eao.workflow.plan import RELEASED_BACKBONES, TABLE_FILES, TEXT_ENCODERS, one_of

# A config problem ends the run here, its one line last on the screen (no traceback after it).
R = Rules.for_snakefile(
    config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
)
VIDEO_DATASETS, IMPORTED_DATASETS = R.video_datasets, R.imported_datasets
# Every rule has `shadow: SHADOW`, None unless EAO_SHADOW is set: jobs run in the working
# directory. Tests set EAO_SHADOW=minimal (tests/test_shadow.py): each job then runs in
# .snakemake/shadow/<tmp>/ holding only its declared inputs (symlinks), and only its declared
# outputs and log come back: a file a job reads undeclared is missing, one it writes is lost.
SHADOW = os.environ.get("EAO_SHADOW") or None


# Jobs call `python -m eao...`: put the interpreter running snakemake (the project's venv) first
# on PATH, so that works without activating the venv; envvars passes PATH on to cluster jobs.
envvars:
    "PATH",


os.environ.update(PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    shard=r"\d{5}",
    encoder=one_of(TEXT_ENCODERS),
    variant=r"[A-Za-z0-9_]+",
    w2v=r"[^/]+",
    stage=r"zeroshot|finetuned",
    strategy=r"at_once|uniform|max_pool|clips",
