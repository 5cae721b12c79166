# EAO: raw instructional videos -> features -> fusion transformer -> the paper's tables.
#
# Outputs (all under results/):
#   demo_world/<dataset>/...               the generated demo world (when demo.enabled): listing
#                                          and release files, videos/ (a directory() output)
#   manifest/<dataset>/{videos,captions,failures}.parquet
#   probe/<dataset>/shard-<NNNNN>.parquet  probed manifest rows of one shard (+ failures-<NNNNN>)
#   features/<backbone>/<dataset>/shard-<NNNNN>.parquet   one row per video (text: per segment)
#   failures/<dataset>.{parquet,tsv}       every input a stage skipped, with the reason
#   pretrain/<variant>/model.pt            a pretrained fusion model: main and each ablation variant
#                                          (+ metrics.jsonl, checkpoints/, tensorboard/; an
#                                          unfinished run's resume state: checkpoints.partial/)
#   finetune/<variant>/<dataset>/model.pt  fine-tuned on a retrieval benchmark's training split
#                                          (+ metrics.jsonl, checkpoints/, tensorboard/, as above)
#   evaluate/retrieval/<zeroshot|finetuned>/<variant>/<dataset>/<strategy>.json   R@K, MedR, chance
#   evaluate/localization/<variant>/<dataset>.json   step localization recall, IoU/IoD, chance
#   tables/<table>.{md,tex,csv,html}       the paper's tables, its numbers and ours side by side
#   index/<dataset>.parquet                search index of a dataset's windows (eao search)
#   report/*.png                           the report's figures (snakemake --report)
# Logs go to logs/<rule>/..., benchmarks to benchmarks/<rule>/...
#
# Declared I/O: a job reads only its declared inputs (or files a listing input names: a
# manifest's videos) and writes only its declared outputs, log and benchmark; every tool takes
# each path on its command line. EAO_SHADOW=minimal runs every rule under shadow: "minimal" to
# prove it (tests/test_shadow.py, tests/test_declared_io.py, docs/reliability.md).

from snakemake.utils import min_version

min_version("9.12")


configfile: "config.yaml"


# `snakemake --report results/report.html` after a run: the tables, training and recall figures.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tables.smk"


rule all:
    default_target: True
    shadow:
        SHADOW
    input:
        R.all_outputs(),
