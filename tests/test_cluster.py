"""The SLURM profile on a real SLURM: a one-node cluster without accounting (tests/slurm_local.py),
the tiny world's first jobs submitted through the shipped profile plus the small-partition
overlay. Root on Debian only (it apt-installs slurm-wlm and munge when missing); `make
test-cluster` runs it, plain pytest skips it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from entry_files import write_released
from slurm_local import LocalSlurm, missing_reason

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
PROFILES = [
    "--profile",
    str(REPO / "workflow/profiles/slurm"),
    "--profile",
    str(REPO / "workflow/profiles/slurm-smoke"),
]
# demo_world, manifest, two probe shards and one extraction shard of howto: 5 jobs
TARGETS = [
    "results/probe/howto/shard-00001.parquet",
    "results/features/logmel/howto/shard-00000.parquet",
]
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")
OPT_IN = "EAO_TEST_CLUSTER"

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    if os.environ.get(OPT_IN) != "1":
        pytest.skip(f"starts a real SLURM as root: `make test-cluster` ({OPT_IN}=1)")
    if reason := missing_reason():
        pytest.skip(reason)
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    # a `timeout` around pytest sends SIGTERM: turn it into an exception so `finally` runs
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        signal.signal(signal.SIGTERM, previous)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(f"signal {signum}: stopping the local SLURM")


def snakemake_slurm(
    slurm: LocalSlurm, workdir: Path, *args: str, timeout: float, configfile: Path = TINY
) -> tuple[subprocess.CompletedProcess, float]:
    """snakemake on the cluster from workdir; its run and seconds. A run past `timeout` is a
    failure (the hang this profile prevents): killed, our SLURM jobs cancelled by the fixture."""
    if not (workdir / "released").exists():  # tiny.yaml's imported dataset; the DAG checks it
        write_released(workdir / "released")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *PROFILES,
        *args,
    ]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=slurm.env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        pytest.fail(f"snakemake still running after {timeout:.0f} s:\n{(out or '')[-3000:]}")
    return proc, time.monotonic() - start


def show_job(slurm: LocalSlurm, job_id: str) -> dict[str, str]:
    """`scontrol show job` as {key: value}; slurmctld keeps a finished job MinJobAge (900) s."""
    out = slurm.run("scontrol", "show", "job", "--oneliner", job_id).stdout
    return dict(item.split("=", 1) for item in out.split() if "=" in item)


def test_tiny_jobs_run_through_sbatch(slurm: LocalSlurm, tmp_path: Path) -> None:
    proc, seconds = snakemake_slurm(slurm, tmp_path, "--verbose", *TARGETS, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    job_ids = SUBMITTED.findall(log)
    assert len(job_ids) == 5, log[-4000:]
    for job_id in job_ids:
        job = show_job(slurm, job_id)
        assert job["JobState"] == "COMPLETED" and job["NumNodes"] == "1", job
        assert job["Partition"] == "cpu" and int(job["NumCPUs"]) <= 2, job
        # the plugin's log of the job (deleted once it succeeded: slurm-keep-successful-logs)
        assert job["StdOut"].startswith(str(tmp_path / "logs/slurm/rule_")), job
    # the profile's status command, and every sbatch call on one node without GPUs
    assert "squeue" in log and "Falling back to 'sacct'" not in log
    calls = re.findall(r"sbatch call: (.*)", log)
    assert len(calls) == 5 and all("--nodes=1" in c and "--gpus" not in c for c in calls)
    for target in TARGETS:
        assert (tmp_path / target).stat().st_size > 0, target
    print(f"5 SLURM jobs in {seconds:.0f} s")


def test_a_failed_job_is_reported_without_accounting(slurm: LocalSlurm, tmp_path: Path) -> None:
    """No slurmdbd, so sacct fails: the job's end must still be seen (squeue), and a failed job
    stop snakemake with SLURM's state and the rule's error, not leave it polling."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "videos.csv").write_text("this is,not\na manifest\n")
    (bad / "caption.json").write_text("{}")
    config = yaml.safe_load(TINY.read_text())
    config["datasets"]["howto"] = {
        "videos": "bad/videos.csv",
        "root": "bad",
        "captions": "bad/caption.json",
    }
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = "results/manifest/howto/videos.parquet"
    proc, seconds = snakemake_slurm(slurm, tmp_path, target, timeout=300, configfile=configfile)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-4000:]
    (job_id,) = SUBMITTED.findall(log)
    assert f"SLURM-job '{job_id}' failed, SLURM status is: 'FAILED'" in log, log[-4000:]
    assert "no 'path' column" in (tmp_path / "logs/manifest/howto.log").read_text()
    assert show_job(slurm, job_id)["JobState"] == "FAILED"
    print(f"failed SLURM job reported in {seconds:.0f} s")
