"""Declared I/O, enforced: the whole tiny workflow run a second time, in a new folder, with every
job in a Snakemake shadow directory (EAO_SHADOW=minimal, workflow/rules/common.smk) succeeds and
writes byte-identical tables to the normal run's (conftest.py's tiny_run).

Under `shadow: "minimal"` (snakemake/jobs.py, Job.prepare) a job runs in
.snakemake/shadow/<tmp>/ where only its relative input paths exist, each a symlink (a
directory() input, such as the demo's videos folder, as one symlink to the folder); after the
job only its declared outputs and log are moved back (dag.py, unshadow_output) and the folder
is deleted. So a job that reads a file it does not declare fails, or its output (and so the
tables) differs, and a file it writes undeclared is lost, failing the jobs that read it. Paths
stay relative through the run (the manifest keeps a relative root's paths relative,
eao.ingest.manifest.resolve_in_root), so a video a manifest names is found in the shadow only
when the job declares its folder. The run is conftest.py's shadow_run; the determinism test of
tests/test_workflow.py compares all of its files. The static side: tests/test_declared_io.py."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_the_tiny_workflow_in_shadow_directories_writes_the_same_tables(
    tiny_run, shadow_run, record_compass
):
    assert shadow_run.returncode == 0, shadow_run.output[-6000:]
    workdir = shadow_run.workdir
    # The jobs ran in .snakemake/shadow/<tmp>/, each folder removed after its job: the shadow
    # root changed after the first job's output was written (a normal run leaves it as made).
    shadow = workdir / ".snakemake" / "shadow"
    first = workdir / "results" / "demo_world" / "world.json"
    assert not list(shadow.iterdir()) and shadow.stat().st_mtime >= first.stat().st_mtime
    tables = sorted(p.name for p in (tiny_run / "results" / "tables").iterdir())
    assert sorted(p.name for p in (workdir / "results" / "tables").iterdir()) == tables
    assert len(tables) > 12
    for name in tables:
        again = (workdir / "results" / "tables" / name).read_bytes()
        assert again == (tiny_run / "results" / "tables" / name).read_bytes(), name
    # The report's figures read the same shards and video frames in its shadow directory (the
    # grid's thumbnails come from the demo's videos folder, a declared input): the same bytes.
    # training.png is left out: its clips/s panel is wall-clock.
    figures = sorted(p.name for p in (tiny_run / "results" / "report").glob("*.png"))
    assert {"attention.png", "retrieval_grid.png", "training.png"} <= set(figures)
    for name in [f for f in figures if f != "training.png"]:
        again = (workdir / "results" / "report" / name).read_bytes()
        assert again == (tiny_run / "results" / "report" / name).read_bytes(), name
    assert (workdir / "results" / "pretrain" / "main" / "model.pt").stat().st_size > 0
    timing = {"tiny workflow, every job in a shadow directory (s)": round(shadow_run.seconds)}
    record_compass("declared I/O", {**timing, "tables differing from the normal run": 0})
