"""A throw-away, single-node SLURM cluster for tests (Debian slurm-wlm 22.05 + munge).

Usage::

    with SlurmCluster() as cluster:
        subprocess.run(["sbatch", "--wrap", "hostname"], env=cluster.env, check=True)

What it does (see /work/shared/ENVIRONMENT.md, "A real SLURM cluster on one machine"):

* installs ``slurm-wlm`` and ``munge`` with apt-get when ``slurmctld`` is missing and we are
  root; otherwise raises :class:`SlurmUnavailable` (callers turn that into a test skip);
* makes sure a munge key exists and ``munged`` answers;
* writes ``slurm.conf`` + ``gres.conf`` into a fresh temporary directory: one node (this
  host, with the CPUs/memory ``slurmd -C`` reports and one fake GPU, ``File=/dev/null``),
  one default partition, accounting off, ``MinJobAge=600`` so ``squeue`` keeps finished jobs
  visible to Snakemake's slurm executor, and non-default ports so a system-wide SLURM
  elsewhere on the machine does not collide with it;
* starts ``slurmctld`` and ``slurmd`` with ``-f <conf>``, waits until ``sinfo`` shows the node
  idle (resuming it when it comes up INVAL/DRAIN/DOWN);
* links ``/etc/slurm/slurm.conf`` to the private slurm.conf while the cluster runs (only
  if that path is free or an old link of ours): the ``srun`` that Snakemake's slurm-jobstep
  executor runs inside each batch job drops ``SLURM_CONF`` from its environment;
* on exit runs ``scontrol shutdown``, waits for (and if need be kills, by pid) its own two
  daemons and removes the temporary directory. munged is left running: it is a host-wide
  service that other users of the machine may rely on.

Only one such cluster runs at a time on a machine: a lock file is held for the cluster's
lifetime (pytest sessions running side by side wait for each other). Daemons left behind by
an earlier run that crashed are recognised by the state file written next to the lock and by
their command line (``-f <tmp>/beatvae-slurm-*/slurm.conf``) and are stopped, by pid, before
a new cluster starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PREFIX = "beatvae-slurm-"
LOCK_PATH = Path(tempfile.gettempdir()) / "beatvae-slurm.lock"
STATE_PATH = Path(tempfile.gettempdir()) / "beatvae-slurm.state.json"
DAEMONS = ("slurmctld", "slurmd")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MUNGE_KEY = Path("/etc/munge/munge.key")
# Where SLURM commands look when SLURM_CONF is unset. snakemake-executor-plugin-slurm-jobstep
# (0.6.x) removes every SLURM_* variable but a few job ids before it runs `srun` inside the
# batch job, SLURM_CONF included, so that srun only finds the cluster through this path.
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be installed or started here; the message says why (skip reason)."""


def _run(cmd, *, env=None, timeout=60, check=False, input=None):
    return subprocess.run(
        cmd,
        env=env,
        timeout=timeout,
        check=check,
        input=input,
        text=True,
        capture_output=True,
    )


def _tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path} not readable)"
    return "\n".join(lines[-n:])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _is_our_daemon(pid: int, conf: str | None = None) -> bool:
    """True when pid is a slurmctld/slurmd started by this module (optionally with conf)."""
    args = _cmdline(pid)
    if not args or os.path.basename(args[0]) not in DAEMONS:
        return False
    if "-f" not in args[:-1]:
        return False
    used = args[args.index("-f") + 1]
    if conf is not None:
        return used == conf
    return Path(used).parent.name.startswith(PREFIX)


def _our_daemon_pids(conf: str | None = None) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _is_our_daemon(int(entry.name), conf):
            pids.append(int(entry.name))
    return pids


def _wait_gone(pids, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if _pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if _pid_alive(p)]
    return alive


def _stop_pids(pids, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, each of the given pids (which must be our daemons)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        pids = _wait_gone(pids, timeout)
        if not pids:
            return


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """Context manager around a private single-node SLURM cluster (see module docstring).

    Attributes once started: ``conf`` (path of slurm.conf), ``env`` (os.environ plus
    ``SLURM_CONF``; pass it to every child process), ``node``, ``partition``, ``cpus``,
    ``memory_mb``, ``workdir`` (the temporary directory, logs under ``workdir/log``),
    ``timings`` (seconds spent installing/starting).
    """

    def __init__(
        self,
        partition: str = "debug",
        gpus: int = 1,
        min_job_age: int = 600,
        install: bool = True,
        start_timeout: float = 120.0,
        lock_timeout: float = 1800.0,
    ):
        self.partition = partition
        self.gpus = gpus
        self.min_job_age = min_job_age
        self.install = install
        self.start_timeout = start_timeout
        self.lock_timeout = lock_timeout
        self.workdir: Path | None = None
        self.conf: Path | None = None
        self.node: str | None = None
        self.cpus: int | None = None
        self.memory_mb: int | None = None
        self.env: dict[str, str] = dict(os.environ)
        self.timings: dict[str, float] = {}
        self._lock_fd = None
        self._pids: list[int] = []
        self._linked = False

    # ------------------------------------------------------------------ public API
    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def run(self, cmd, timeout: float = 60, check: bool = True, **kw):
        """Run cmd (list) with the cluster's environment; returns CompletedProcess."""
        return _run(cmd, env=self.env, timeout=timeout, check=check, **kw)

    def sbatch(self, *args: str) -> str:
        """Submit with sbatch --parsable; returns the job id."""
        out = self.run(["sbatch", "--parsable", *args]).stdout.strip()
        return out.split(";")[0]

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o <id>`` as a dict (empty once the job has been purged)."""
        res = self.run(["scontrol", "show", "job", "-o", str(job_id)], check=False)
        if res.returncode != 0:
            return {}
        info = {}
        for token in res.stdout.split():
            if "=" in token:
                key, _, value = token.partition("=")
                info[key] = value
        return info

    def wait_job(self, job_id: str, timeout: float = 120) -> dict[str, str]:
        """Wait until the job is no longer PENDING/RUNNING/...; returns its final info."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.job_info(job_id)
            state = info.get("JobState", "")
            if state and state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                return info
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {state or 'unknown'} after {timeout}s")
            time.sleep(0.5)

    def start(self) -> None:
        t0 = time.monotonic()
        self._ensure_installed()
        self.timings["install_s"] = time.monotonic() - t0
        self._acquire_lock()
        try:
            t1 = time.monotonic()
            self._ensure_munge()
            self._stop_stale()
            self._write_config()
            self._start_daemons()
            self._wait_idle()
            self.timings["start_s"] = time.monotonic() - t1
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            if self.conf is not None and self._pids:
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    _run(["scontrol", "shutdown"], env=self.env, timeout=20)
                left = _wait_gone(self._pids, 15)
                _stop_pids([p for p in left if _is_our_daemon(p, str(self.conf))])
            self._pids = []
            self._unlink_default_conf()
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.workdir = None
            STATE_PATH.unlink(missing_ok=True)
        finally:
            self._release_lock()

    # ------------------------------------------------------------------ steps
    def _ensure_installed(self) -> None:
        if not Path("/proc").is_dir():
            raise SlurmUnavailable("needs Linux (/proc)")
        if shutil.which("slurmctld") and shutil.which("slurmd") and shutil.which("munged"):
            return
        if os.geteuid() != 0:
            raise SlurmUnavailable("slurm-wlm/munge not installed and not root to install them")
        if not self.install:
            raise SlurmUnavailable("slurm-wlm/munge not installed (install=False)")
        if not shutil.which("apt-get"):
            raise SlurmUnavailable("slurm-wlm/munge not installed and no apt-get here")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            for cmd in (
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300"] + ["slurm-wlm", "munge"],
            ):
                res = _run(cmd, env=env, timeout=900)
                if res.returncode != 0:
                    raise SlurmUnavailable(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
        except subprocess.TimeoutExpired as e:
            raise SlurmUnavailable(f"apt-get timed out: {e}") from None
        if not (shutil.which("slurmctld") and shutil.which("slurmd")):
            raise SlurmUnavailable("apt-get ran but slurmctld/slurmd are still missing")

    def _acquire_lock(self) -> None:
        fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise SlurmUnavailable(
                        f"another test cluster held {LOCK_PATH} for {self.lock_timeout:.0f}s"
                    ) from None
                time.sleep(1)
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _ensure_munge(self) -> None:
        if self._munge_works():
            return
        if os.geteuid() != 0:
            raise SlurmUnavailable("munged is not running and we are not root to start it")
        if not MUNGE_KEY.exists():
            if shutil.which("mungekey"):
                res = _run(["mungekey", "--create", "--keyfile", str(MUNGE_KEY)])
            else:
                res = _run(["create-munge-key", "-f"])
            if res.returncode != 0 and not MUNGE_KEY.exists():
                raise SlurmUnavailable(f"cannot create {MUNGE_KEY}: {res.stderr.strip()}")
        # munged insists on strict ownership/permissions of its key and directories
        shutil.chown(MUNGE_KEY, "munge", "munge")
        os.chmod(MUNGE_KEY, 0o400)
        for d in (Path("/run/munge"), Path("/var/lib/munge"), Path("/var/log/munge")):
            d.mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "munge", "munge")
        os.chmod("/run/munge", 0o755)
        # a stale socket from a killed munged makes the new one refuse to start
        if MUNGE_SOCKET.exists() and not self._munge_works():
            res = _run(["runuser", "-u", "munge", "--", "munged", "--force"], timeout=30)
        else:
            res = _run(["runuser", "-u", "munge", "--", "munged"], timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._munge_works():
                return
            time.sleep(0.3)
        raise SlurmUnavailable(f"munged did not come up (rc={res.returncode}): {res.stderr.strip()[-400:]}")

    @staticmethod
    def _munge_works() -> bool:
        if not (shutil.which("munge") and shutil.which("unmunge")):
            return False
        try:
            cred = _run(["munge", "-n"], timeout=10)
            if cred.returncode != 0:
                return False
            return _run(["unmunge"], input=cred.stdout, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _stop_stale(self) -> None:
        """Stop daemons of an earlier cluster of ours whose owner died (we hold the lock)."""
        stale: set[int] = set()
        try:
            state = json.loads(STATE_PATH.read_text())
        except (OSError, ValueError):
            state = {}
        old_conf = state.get("conf")
        if old_conf and Path(old_conf).exists():
            # polite first: lets slurmctld save state and tell slurmd to exit
            env = dict(os.environ, SLURM_CONF=old_conf)
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                _run(["scontrol", "shutdown"], env=env, timeout=15)
        for pid in state.get("pids", []):
            if _is_our_daemon(pid):
                stale.add(pid)
        stale.update(_our_daemon_pids())
        if stale:
            left = _wait_gone(sorted(stale), 10)
            _stop_pids(left)
        if DEFAULT_CONF.is_symlink() and Path(os.readlink(DEFAULT_CONF)).parent.name.startswith(PREFIX):
            DEFAULT_CONF.unlink()
        old_dir = state.get("workdir")
        if old_dir and Path(old_dir).name.startswith(PREFIX):
            shutil.rmtree(old_dir, ignore_errors=True)
        STATE_PATH.unlink(missing_ok=True)

    def _node_hardware(self) -> dict[str, str]:
        res = _run(["slurmd", "-C"], timeout=30)
        if res.returncode != 0:
            raise SlurmUnavailable(f"slurmd -C failed: {res.stderr.strip()}")
        line = next((ln for ln in res.stdout.splitlines() if ln.startswith("NodeName=")), "")
        hw = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
        if "CPUs" not in hw or "RealMemory" not in hw:
            raise SlurmUnavailable(f"cannot parse slurmd -C output: {res.stdout!r}")
        return hw

    def _write_config(self) -> None:
        hw = self._node_hardware()
        self.node = socket.gethostname().split(".")[0]
        self.cpus = int(hw["CPUs"])
        self.memory_mb = int(hw["RealMemory"])
        self.workdir = Path(tempfile.mkdtemp(prefix=PREFIX))
        os.chmod(self.workdir, 0o755)
        for sub in ("state", "spool", "log"):
            (self.workdir / sub).mkdir()
        self.conf = self.workdir / "slurm.conf"
        topo = " ".join(
            f"{k}={hw[k]}" for k in ("Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore") if k in hw
        )
        gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        w = self.workdir
        ctld_port, slurmd_port = _free_port(), _free_port()
        self.conf.write_text(
            "\n".join(
                [
                    "# written by tests/slurm_cluster.py - a private single-node test cluster",
                    "ClusterName=beatvae-test",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={slurmd_port}",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    f"StateSaveLocation={w}/state",
                    f"SlurmdSpoolDir={w}/spool",
                    f"SlurmctldPidFile={w}/slurmctld.pid",
                    f"SlurmdPidFile={w}/slurmd.pid",
                    f"SlurmctldLogFile={w}/log/slurmctld.log",
                    f"SlurmdLogFile={w}/log/slurmd.log",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobCompType=jobcomp/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "SchedulerType=sched/backfill",
                    "MpiDefault=none",
                    "MailProg=/bin/true",
                    "GresTypes=gpu",
                    # jobs that ask for no memory must not take the whole node
                    "DefMemPerCPU=1000",
                    "ReturnToService=2",
                    f"MinJobAge={self.min_job_age}",
                    "SlurmctldTimeout=30",
                    "SlurmdTimeout=60",
                    "InactiveLimit=0",
                    "KillWait=5",
                    "Waittime=0",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} {topo}"
                    f" RealMemory={self.memory_mb}{gres} State=UNKNOWN",
                    f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        if self.gpus:
            (self.workdir / "gres.conf").write_text(
                f"NodeName={self.node} Name=gpu File=/dev/null Count={self.gpus}\n"
                if self.gpus > 1
                else f"NodeName={self.node} Name=gpu File=/dev/null\n"
            )
        else:
            (self.workdir / "gres.conf").write_text("")
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self._link_default_conf()

    def _link_default_conf(self) -> None:
        assert self.conf is not None
        if DEFAULT_CONF.is_symlink() or DEFAULT_CONF.exists():
            raise SlurmUnavailable(
                f"{DEFAULT_CONF} belongs to another SLURM installation; the test cluster "
                "needs that path (srun inside Snakemake's jobs does not see SLURM_CONF)"
            )
        try:
            DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
            DEFAULT_CONF.symlink_to(self.conf)
        except OSError as e:
            raise SlurmUnavailable(f"cannot link {DEFAULT_CONF} -> {self.conf}: {e}") from None
        self._linked = True

    def _unlink_default_conf(self) -> None:
        if (
            getattr(self, "_linked", False)
            and DEFAULT_CONF.is_symlink()
            and os.readlink(DEFAULT_CONF) == str(self.conf)
        ):
            DEFAULT_CONF.unlink()
        self._linked = False

    def _start_daemons(self) -> None:
        assert self.workdir is not None and self.conf is not None
        self._save_state()
        for daemon in DAEMONS:
            res = _run([daemon, "-f", str(self.conf)], env=self.env, timeout=60)
            log = self.workdir / "log" / f"{daemon}.log"
            pidfile = self.workdir / f"{daemon}.pid"
            deadline = time.monotonic() + 20
            pid = None
            while time.monotonic() < deadline:
                try:
                    pid = int(pidfile.read_text().strip())
                except (OSError, ValueError):
                    pid = None
                if pid and _pid_alive(pid):
                    break
                time.sleep(0.2)
            else:
                raise SlurmUnavailable(
                    f"{daemon} did not start (rc={res.returncode}, {res.stderr.strip()}); log tail:\n{_tail(log)}"
                )
            self._pids.append(pid)
            self._save_state()

    def _save_state(self) -> None:
        STATE_PATH.write_text(
            json.dumps(
                {
                    "conf": str(self.conf),
                    "workdir": str(self.workdir),
                    "pids": self._pids,
                    "owner_pid": os.getpid(),
                }
            )
        )

    def _node_state(self) -> str:
        res = self.run(["sinfo", "-h", "-N", "-n", self.node, "-o", "%t"], check=False)
        return res.stdout.strip().lower() if res.returncode == 0 else ""

    def _wait_idle(self) -> None:
        assert self.workdir is not None
        deadline = time.monotonic() + self.start_timeout
        resumed_at = 0.0
        state = ""
        while time.monotonic() < deadline:
            for i, pid in enumerate(self._pids):
                if not _pid_alive(pid):
                    daemon = DAEMONS[i]
                    raise SlurmUnavailable(
                        f"{daemon} exited; log tail:\n{_tail(self.workdir / 'log' / f'{daemon}.log')}"
                    )
            state = self._node_state()
            if state.rstrip("*~#!%$@^-") == "idle" and not state.endswith("*"):
                return
            if re.match(r"(inval|drain|drng|drained|down|fail)", state) and (time.monotonic() - resumed_at > 5):
                self.run(
                    ["scontrol", "update", f"nodename={self.node}", "state=resume"],
                    check=False,
                )
                resumed_at = time.monotonic()
            time.sleep(0.5)
        reason = self.run(["sinfo", "-h", "-N", "-o", "%N %t %E"], check=False).stdout
        raise SlurmUnavailable(
            f"node {self.node} not idle after {self.start_timeout:.0f}s (state {state!r}, "
            f"{reason.strip()}); slurmctld log tail:\n"
            f"{_tail(self.workdir / 'log' / 'slurmctld.log')}\nslurmd log tail:\n"
            f"{_tail(self.workdir / 'log' / 'slurmd.log')}"
        )


if __name__ == "__main__":  # manual smoke test: python tests/slurm_cluster.py
    t = time.monotonic()
    with SlurmCluster() as c:
        print("up:", c.timings, "conf:", c.conf)
        out = c.workdir / "job-%j.out"
        job = c.sbatch("--gpus=1", "-o", str(out), "--wrap", "echo job $SLURM_JOB_ID")
        info = c.wait_job(job)
        print(job, info.get("JobState"), info.get("TresPerJob"), info.get("AllocTRES"))
        print(Path(str(out).replace("%j", job)).read_text().strip())
    print(f"total {time.monotonic() - t:.1f}s")
