"""A throwaway one-node SLURM for tests/test_cluster.py: munged, slurmctld and slurmd started as
our own processes from a temp dir, no accounting; the test writes nothing under /etc (the apt
packages, when it installs them, bring their own files there).

Also a command for trying the docs by hand (as root, on Debian):

    python tests/slurm_local.py /tmp/slurm   # starts it, prints `export SLURM_CONF=...`, waits
    # Ctrl-C (or SIGTERM to the printed PID) stops the daemons and their jobs
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# Debian 12 packages: the controller, the node daemon, the client commands, munge for auth.
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
COMMANDS = ["slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "munged"]
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def missing_reason() -> str | None:
    """Why a local SLURM cannot be had here (None: it can): installs the packages when missing."""
    # root first: the conf runs the daemons and the jobs as root (SlurmUser, SlurmdUser)
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (the test's slurmd runs jobs as root; apt-get for slurm-wlm, munge)"
    if all(shutil.which(c) for c in COMMANDS):
        return None
    if not shutil.which("apt-get"):
        return "slurm-wlm/munge are missing and there is no apt-get to install them"
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    env = {**os.environ, **APT_ENV}
    try:
        run = subprocess.run(install, env=env, capture_output=True, text=True, timeout=1200)
        if run.returncode != 0:  # a stale package list: refresh it once
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
            run = subprocess.run(install, env=env, capture_output=True, text=True, timeout=1200)
    except subprocess.TimeoutExpired as e:
        return f"apt-get did not finish within {e.timeout:.0f} s: {' '.join(e.cmd)}"
    if run.returncode != 0 or not all(shutil.which(c) for c in COMMANDS):
        return f"apt-get install {' '.join(PACKAGES)} failed:\n{run.stdout[-2000:]}{run.stderr}"
    return None


def free_port() -> int:
    # not the default 6817/6818: a real SLURM on this host keeps its own ports
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_size() -> tuple[int, int]:
    """CPUs this process may use and the node's memory in MB (a little under MemTotal, since
    slurmd drains a node that reports less memory than slurm.conf claims)."""
    cpus = len(os.sched_getaffinity(0))
    meminfo = Path("/proc/meminfo").read_text()
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo)[1])
    return cpus, int(total_kb / 1024 * 0.9)


def slurm_conf(root: Path, host: str, cpus: int, mem_mb: int, min_job_age: int = 900) -> str:
    """One node in partitions cpu and gpu (no GPUs: the tiny config runs on CPU)."""
    return f"""\
ClusterName=eaotest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge={min_job_age}
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={host} MaxTime=INFINITE State=UP
"""


@dataclass
class LocalSlurm:
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, timeout: float = 60) -> None:
        (self.root / "state").mkdir(parents=True, exist_ok=True)
        (self.root / "spool").mkdir(exist_ok=True)
        host = socket.gethostname().split(".")[0]
        cpus, mem_mb = node_size()
        conf = self.root / "slurm.conf"
        conf.write_text(slurm_conf(self.root, host, cpus, mem_mb))
        self.env = {**os.environ, "SLURM_CONF": str(conf)}
        self._srun_shim(conf)
        self._start_munged()
        self._spawn("slurmctld", ["slurmctld", "-D", "-c", "-i"])
        self._spawn("slurmd", ["slurmd", "-D", "-N", host])
        self._wait_idle(host, timeout)

    def _srun_shim(self, conf: Path) -> None:
        """An `srun` first on PATH that knows our slurm.conf. Inside a job, the slurm-jobstep
        plugin (0.6.1) runs the rule with `srun` in an environment stripped of SLURM_* variables,
        SLURM_CONF included, so the real srun would look for /etc/slurm/slurm.conf; sbatch
        --export=ALL carries PATH into the job."""
        bin_dir = self.root / "bin"
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "srun"
        shim.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {shutil.which("srun")} "$@"\n')
        shim.chmod(0o755)
        self.env["PATH"] = f"{bin_dir}{os.pathsep}{self.env.get('PATH', '')}"

    def _start_munged(self) -> None:
        munge = self.root / "munge"
        munge.mkdir(mode=0o700, exist_ok=True)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={munge}/munge.socket",
                f"--pid-file={munge}/munged.pid",
                f"--log-file={munge}/munged.log",
                f"--seed-file={munge}/munged.seed",
            ],
        )
        self._wait_for(lambda: (munge / "munge.socket").exists(), 20, "munged's socket")

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / f"{name}.out", "w")  # noqa: SIM115 - the daemon keeps it open
        # own session: a Ctrl-C in the terminal reaches us, and we stop them in order
        proc = subprocess.Popen(
            cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited at once:\n{self.logs()}")

    def _wait_idle(self, host: str, timeout: float) -> None:
        def idle() -> bool:
            out = self.run("sinfo", "-h", "-n", host, "-o", "%t", check=False).stdout
            return out.strip() in {"idle", "mix"}

        self._wait_for(idle, timeout, f"node {host} idle in sinfo")

    def _wait_for(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [p.args[0] for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"no {what} after {timeout:.0f} s"
                raise RuntimeError(f"local SLURM did not start: {why}\n{self.logs()}")
            time.sleep(0.5)

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, check=check, timeout=60
        )

    def logs(self, tail: int = 3000) -> str:
        parts = []
        for path in sorted(self.root.glob("*.log")) + sorted(self.root.glob("*.out")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def _wait_for_empty_queue(self, seconds: float) -> None:
        """Until squeue lists no job (cancelled jobs pass through KillWait), at most `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.run("squeue", "-h", check=False).stdout.strip():
                return
            time.sleep(1)

    def stop(self) -> None:
        """Cancel our jobs (their slurmstepd left slurmd's process tree), then the daemons by
        PID, newest first: slurmd, slurmctld, munged."""
        if self.procs and self.procs[-1].poll() is None:
            try:
                self.run("scancel", "--full", "--quiet", "--user", "root", check=False)
                self._wait_for_empty_queue(60)
            except subprocess.TimeoutExpired:
                pass  # the daemons are stopped below all the same
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)
        self.procs.clear()


def main(root: str) -> None:
    if reason := missing_reason():
        sys.exit(reason)
    slurm = LocalSlurm(Path(root).resolve())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        slurm.start()
        print(
            f"export SLURM_CONF={slurm.env['SLURM_CONF']} PATH={slurm.root}/bin:$PATH"
            f"   # pid {os.getpid()}",
            flush=True,
        )
        while all(p.poll() is None for p in slurm.procs):
            time.sleep(2)
        print(f"a daemon exited:\n{slurm.logs()}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        slurm.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/eao-slurm")
