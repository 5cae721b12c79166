"""Golden outputs: each stage's outputs on the tiny inputs, pinned beside its output version.

tests/golden/stages.json holds, per key of eao.versions.OUTPUT_VERSIONS, the version and a
fingerprint of the values of every file the stage wrote in the tiny workflow (tests/
fingerprint.py: not file bytes, which carry writer versions and times). A stage whose outputs
changed while its version did not fails with one line naming the key to bump; a bumped version
fails until `make golden` records the new outputs. A stage downstream of a changed one is not
blamed: it reruns anyway, because its inputs change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fingerprint import differs, fingerprint

from eao.backbones import registry
from eao.versions import OUTPUT_VERSIONS as STAGE_VERSIONS

# every stage's version: the stages' (eao.versions) and each backbone's (its SPEC)
OUTPUT_VERSIONS = {**STAGE_VERSIONS, **registry.versions()}

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "stages.json"
UPDATE = os.environ.get("EAO_UPDATE_GOLDEN") == "1"

pytestmark = pytest.mark.slow

# Stages in the order data flows; a stage's upstream is every stage of an earlier layer (an
# over-approximation: a change upstream may hide one here until `make golden` records it).
LAYERS = [
    ["demo", "import", "word2vec", "import_checkpoint"],
    ["manifest"],
    ["probe"],
    [k for k in OUTPUT_VERSIONS if k.startswith(("features.", "text."))],
    ["failures", "pretrain"],
    ["finetune"],
    ["retrieval", "localization", "index"],
    ["tables", "report"],
]
SKIPPED_PARTS = {"checkpoints", "tensorboard"}  # a training run's own scratch, not its result
# its clips/s panel is wall-clock throughput (tests/test_shadow.py leaves it out for that too)
SKIPPED_FILES = {"training.png"}


def stage_of(rel: Path, imported: set[str]) -> str | None:
    """The stage (an OUTPUT_VERSIONS key) that writes results/<rel>; None for what is no
    stage's output (bench results, hidden files)."""
    parts = rel.parts
    skipped = SKIPPED_PARTS & set(parts) or rel.name in SKIPPED_FILES
    if rel.name.startswith(".") or skipped or parts[0] == "bench":
        return None
    top, rest = parts[0], parts[1:]
    if top in ("manifest", "probe"):
        return "import" if rest[0] in imported else top
    if top == "features":
        if rest[0].startswith("text_"):
            return f"text.{rest[0].removeprefix('text_')}"
        return "import" if rest[1] in imported else f"features.{rest[0]}"
    if top == "evaluate":
        return rest[0]
    simple = {
        "demo_world": "demo",
        "failures": "failures",
        "pretrain": "pretrain",
        "finetune": "finetune",
        "index": "index",
        "tables": "tables",
        "report": "report",
        "word2vec": "word2vec",
    }
    return simple.get(top, f"unknown ({top})")


def extra_outputs(folder: Path) -> dict[str, list[Path]]:
    """Outputs of the stages the tiny workflow does not run, made from fixed inputs: a word2vec
    file converted, a checkpoint in the released layout imported."""
    from entry_files import write_word2vec
    from test_import_checkpoint import SMALL, official_file, random_reference

    folder.mkdir(parents=True, exist_ok=True)
    write_word2vec(folder / "w2v.bin", ["cut", "the", "onion", "crack", "an", "egg"])
    kv = folder / "w2v.kv"
    run = [sys.executable, "-m"]
    subprocess.run(
        [*run, "eao.backbones.word2vec", "--source", str(folder / "w2v.bin"), "--out", str(kv)],
        check=True,
        capture_output=True,
        cwd=folder,
    )
    official = official_file(folder / "official.pth", random_reference(SMALL).state_dict(), SMALL)
    subprocess.run(
        [*run, "eao.checkpoints", str(official), str(folder / "model.pt")],
        check=True,
        capture_output=True,
        cwd=folder,
    )
    return {
        "word2vec": [kv],
        "import_checkpoint": [folder / "model.pt"],
    }


@pytest.fixture(scope="module")
def current(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """{stage: {"version": n, "files": {name: fingerprint}}} of this code on the tiny inputs."""
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    imported = {n for n, d in (config.get("datasets") or {}).items() if d.get("imported")}
    stages: dict[str, dict] = {k: {"version": v, "files": {}} for k, v in OUTPUT_VERSIONS.items()}
    results = tiny_run / "results"
    for path in sorted(results.rglob("*")):
        stage = stage_of(path.relative_to(results), imported) if path.is_file() else None
        if stage:
            assert stage in stages, f"results/{path.relative_to(results)}: {stage}"
            stages[stage]["files"][str(path.relative_to(tiny_run))] = fingerprint(path, tiny_run)
    extra = tmp_path_factory.mktemp("golden_extra")
    for stage, files in extra_outputs(extra).items():
        for path in files:
            stages[stage]["files"][str(path.relative_to(extra))] = fingerprint(path, extra)
    if UPDATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(stages, indent=1, sort_keys=True) + "\n")
    return stages


def changed_files(now: dict, then: dict) -> list[str]:
    names = sorted(set(now["files"]) | set(then["files"]))
    return [
        n
        for n in names
        if n not in now["files"]
        or n not in then["files"]
        or differs(now["files"][n], then["files"][n])
    ]


@pytest.mark.parametrize("stage", list(OUTPUT_VERSIONS))
def test_a_stage_whose_outputs_change_bumps_its_version(stage, current):
    if UPDATE:
        pytest.skip(f"recorded {GOLDEN.relative_to(REPO)}")
    golden = json.loads(GOLDEN.read_text())
    now = current[stage]
    assert now["files"], f"stage {stage} wrote nothing in the tiny workflow or its extras"
    if stage not in golden:
        pytest.fail(f"{stage} has no golden outputs: record them with `make golden`", False)
    then = golden[stage]
    if now["version"] != then["version"]:
        pytest.fail(
            f"{stage} is at output version {now['version']}, tests/golden/stages.json "
            f"at {then['version']}: record its outputs with `make golden`",
            False,
        )
    changed = changed_files(now, then)
    layer = next(i for i, names in enumerate(LAYERS) if stage in names)
    upstream = [
        s for names in LAYERS[:layer] for s in names if changed_files(current[s], golden[s])
    ]
    if changed and not upstream:
        pytest.fail(
            f"{stage}'s outputs changed ({changed[0]} and {len(changed) - 1} more) at "
            f"output version {now['version']}: bump {where_to_bump(stage)}, then `make golden`",
            False,
        )


def where_to_bump(stage: str) -> str:
    if stage in STAGE_VERSIONS:
        return f"OUTPUT_VERSIONS[{stage!r}] in src/eao/versions.py"
    module = registry.backbone(stage.removeprefix("features.")).build.__module__
    return f"the version of SPEC in {module}"


def test_every_stage_is_in_a_layer():
    assert sorted(s for names in LAYERS for s in names) == sorted(OUTPUT_VERSIONS)
