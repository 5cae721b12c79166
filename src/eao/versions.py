"""Each stage's output version: what decides, after an upgrade, which finished outputs rerun.

Snakemake reruns a job when one of its recorded params changes; it does not look into the
Python code a job runs. So every rule records the version of the stage it runs (a param, see
workflow/rules/*.smk), and a version is bumped when, and only when, the stage's OUTPUT changes:
a fix that moves a feature value, a metric or a table cell. A refactor, a docstring, a faster
kernel that gives the same values bumps nothing and reruns nothing; at HowTo100M scale a needless
extraction rerun costs hundreds of node-days, a missed one leaves stale numbers in the tables.

tests/test_golden.py keeps the two in step: it pins a fingerprint of each stage's outputs on the
tiny workflow beside the version below, and a change of outputs without a bump fails naming the
key to bump. Bumping a key reruns that stage's jobs and everything downstream of them
(tests/test_versions.py), e.g. a backbone's reruns its extraction pass, the models
trained on its features, their evaluations, the tables and the report.

Keys: a stage. A media backbone's or text encoder's version is its spec's (`version` of the
SPEC / TEXT_SPEC in its module, eao.backbones): extract_<pass> and extract_text run several
extractors whose outputs change independently. eao.backbones.registry.versions() gives them as
"features.<backbone>" / "text.<encoder>" keys. Pure Python: any module may import it.
"""

from __future__ import annotations

OUTPUT_VERSIONS: dict[str, int] = {
    "demo": 1,  # the generated demo world (videos, captions, annotations)
    # videos/captions/failures tables of a dataset; 2: paths under a relative root stay relative
    "manifest": 2,
    "probe": 1,  # probed shards and their failures
    # released features as manifest and shards; 2: a row's path is <pickle>#<item>; 3: the
    # pickles' float32 values unchanged (were unit rows in float16), the official loaders' keys
    "import": 3,
    "failures": 1,  # the gathered failures table
    "word2vec": 1,  # a word2vec file converted for memory-mapped loading
    "pretrain": 1,  # the trained model and its metrics
    "import_checkpoint": 2,  # a released checkpoint converted; 2: its source has the sha256
    "finetune": 1,
    "retrieval": 1,  # text-to-video retrieval metrics
    "localization": 1,  # step localization metrics
    "index": 3,  # the search index's window embeddings; 2: the model's path as given; 3: its
    # search folder (.ann)
    "tables": 2,  # 2: your_benchmarks, the retrieval benchmarks that are not the paper's
    "report": 1,  # the report's figures
}


def output_version(key: str) -> int:
    """The output version of `key`; KeyError names the known keys (a rule asked for a stage that
    has no version: add it above)."""
    try:
        return OUTPUT_VERSIONS[key]
    except KeyError:
        raise KeyError(
            f"no output version for {key!r}; known: {', '.join(OUTPUT_VERSIONS)}"
        ) from None
