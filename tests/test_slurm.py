"""The workflow on a real (single-node, throw-away) SLURM cluster with profiles/slurm.

The two cluster tests use the `slurm_cluster` fixture (tests/conftest.py, tests/slurm_cluster.py):
they skip where SLURM cannot be installed/started. The profile's dry run needs no cluster and runs
in the fast tier. Run the cluster tests with

    .venv/bin/pytest tests/test_slurm.py -m slurm

Snakemake is invoked as documented in profiles/slurm/config.yaml: `--workflow-profile
profiles/slurm` (a plain `--profile` would also load profiles/default on top of it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"
SMOKE_CONFIG = REPO / "tests" / "config" / "smoke.yaml"
SNAKEFILE = REPO / "Snakefile"

# Poll SLURM every few seconds instead of the plugin's 40 s, so the tests do not idle.
FAST_POLLING = ["--slurm-init-seconds-before-status-checks", "2"]

SUBMITTED = re.compile(
    r"Job (?P<jobid>\d+) has been submitted with SLURM jobid (?P<slurm_id>\d+) "
    r"\(log: (?P<log>.+?)\)\."
)
SBATCH_CALL = re.compile(r"sbatch call: (?P<call>sbatch .*)")


def snakemake_cmd() -> list[str]:
    exe = REPO / ".venv" / "bin" / "snakemake"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]


def run_snakemake(cluster, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Snakemake from the repository root with profiles/slurm; cluster=None: no SLURM env."""
    env = dict(cluster.env if cluster is not None else os.environ)
    env.pop("SNAKEMAKE_PROFILE", None)
    cmd = [
        *snakemake_cmd(),
        "--workflow-profile",
        str(PROFILE),
        "--slurm-status-command",
        "squeue",  # accounting is off on the test cluster; the profile says so too
        *FAST_POLLING,
        *args,
    ]
    try:
        res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        err = (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        queue = (
            cluster.run(["squeue", "--states=all", "-o", "%i %j %T %R"], check=False).stdout
            if cluster is not None
            else ""
        )
        pytest.fail(
            f"snakemake timed out after {timeout}s: {' '.join(cmd)}\nsqueue:\n{queue}\n"
            f"stdout:\n{(out or '')[-3000:]}\nstderr:\n{(err or '')[-6000:]}"
        )
    res.args = cmd
    return res


def explain(res: subprocess.CompletedProcess) -> str:
    return (
        f"command: {' '.join(map(str, res.args))}\nrc={res.returncode}\n"
        f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-8000:]}"
    )


def submissions(log_text: str) -> dict[str, tuple[str, Path]]:
    """SLURM job id -> (snakemake job id, slurm log path) from Snakemake's output."""
    return {m["slurm_id"]: (m["jobid"], Path(m["log"])) for m in SUBMITTED.finditer(log_text)}


def sbatch_calls(log_text: str) -> dict[str, str]:
    """rule name -> sbatch command line without the --wrap payload (needs --verbose)."""
    calls = {}
    for m in SBATCH_CALL.finditer(log_text):
        head = m["call"].split(" --wrap=", 1)[0]
        rule = re.search(r"--comment '?rule_([A-Za-z0-9_]+?)(?:_wildcards_[^' ]*)?'?(?: |$)", head)
        if rule:
            calls.setdefault(rule[1], head)
    return calls


TOY_SNAKEFILE = textwrap.dedent("""
    localrules: all

    rule all:
        input: "results/prepared.txt", "results/model.txt"

    rule prepare:
        output: "results/prepared.txt"
        log: "logs/prepare.log"
        shell:
            "echo $SLURM_JOB_ID > {output}; "
            "env | grep -E '^(SLURM_JOB_ID|SLURM_JOB_PARTITION|SLURMD_NODENAME)=' > {log}"

    # No GPU declared here: the request must come from profiles/slurm's set-resources.
    rule train_model:
        input: "results/prepared.txt"
        output: "results/model.txt"
        log: "logs/train_model.log"
        shell:
            "echo $SLURM_JOB_ID > {output}; "
            "env | grep -E '^(SLURM_JOB_ID|SLURM_JOB_PARTITION|SLURMD_NODENAME|"
            "SLURM_GPUS.*|SLURM_JOB_GPUS|CUDA_VISIBLE_DEVICES)=' > {log}"
    """)


@pytest.mark.slurm
@pytest.mark.slow
def test_toy_workflow_runs_as_slurm_jobs_and_training_gets_a_gpu(slurm_cluster, tmp_path):
    cluster = slurm_cluster
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(TOY_SNAKEFILE)

    res = run_snakemake(
        cluster,
        ["--snakefile", str(snakefile), "--directory", str(tmp_path), "--verbose"],
        timeout=420,
    )
    assert res.returncode == 0, explain(res)
    log_text = res.stdout + res.stderr

    # every non-local rule ran as its own SLURM job, and wrote that job's id
    ids = {}
    for rule, out in (("prepare", "results/prepared.txt"), ("train_model", "results/model.txt")):
        path = tmp_path / out
        assert path.exists(), f"{out} missing\n{explain(res)}"
        ids[rule] = path.read_text().strip()
        assert re.fullmatch(r"\d+", ids[rule]), f"{out} holds no SLURM job id: {ids[rule]!r}"
        assert f"SLURM_JOB_ID={ids[rule]}" in (tmp_path / "logs" / f"{rule}.log").read_text()
    assert ids["prepare"] != ids["train_model"]

    submitted = submissions(log_text)
    assert set(ids.values()) <= set(submitted), (ids, submitted, explain(res))
    assert len(submitted) == 2, f"'all' is a localrule and must not be submitted: {submitted}"
    assert sorted(re.findall(r"^rule (\w+):$", log_text, re.M)) == ["prepare", "train_model"]
    for slurm_id, (_, slurm_log) in submitted.items():
        slurm_log = slurm_log if slurm_log.is_absolute() else tmp_path / slurm_log
        assert slurm_log.name == f"{slurm_id}.log"
        assert slurm_log.exists(), f"SLURM log kept by the profile: {slurm_log}"

    # the GPU request: on the sbatch command line ...
    calls = sbatch_calls(log_text)
    assert set(calls) == {"prepare", "train_model"}, (calls, explain(res))
    assert "--gpus=1" in calls["train_model"], calls["train_model"]
    assert "--gpus" not in calls["prepare"] and "--gres" not in calls["prepare"], calls
    # ... and in SLURM's own record of the jobs (kept for MinJobAge=600 s)
    train = cluster.job_info(ids["train_model"])
    prepare = cluster.job_info(ids["prepare"])
    assert train.get("JobState") == "COMPLETED", train
    assert prepare.get("JobState") == "COMPLETED", prepare
    assert "gpu:1" in train.get("TresPerJob", ""), train
    assert "gpu" not in prepare.get("TresPerJob", ""), prepare
    assert train.get("Comment") == "rule_train_model", train
    # the profile's default resources reached sbatch
    assert " -t 60" in calls["prepare"] and " --mem 4000" in calls["prepare"], calls["prepare"]


@pytest.mark.snakemake
def test_dry_run_with_slurm_profile_parses(tmp_path):
    """No cluster needed: the profile parses and hands train_model its GPU."""
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(TOY_SNAKEFILE)
    res = run_snakemake(
        None,
        ["-n", "--snakefile", str(snakefile), "--directory", str(tmp_path)],
        timeout=120,
    )
    assert res.returncode == 0, explain(res)
    assert re.search(r"rule train_model:.*?resources: [^\n]*gpu=1", res.stdout, re.S), explain(res)


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.skipif(
    not SMOKE_CONFIG.exists() or not SNAKEFILE.exists(),
    reason="needs the workflow's Snakefile and tests/config/smoke.yaml",
)
def test_real_workflow_on_slurm(slurm_cluster, tmp_path):
    cluster = slurm_cluster
    args = [
        "--configfile",
        str(SMOKE_CONFIG),
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(tmp_path),
        # the test node has only the machine's cores; larger `threads:` could not be scheduled
        "--max-threads",
        str(cluster.cpus),
    ]
    res = run_snakemake(cluster, args, timeout=3000)
    assert res.returncode == 0, explain(res)
    log_text = res.stdout + res.stderr

    submitted = submissions(log_text)
    assert submitted, f"no job was submitted to SLURM\n{explain(res)}"
    # every job that was not a localrule went through sbatch
    remote_jobs = re.findall(r"^rule (\w+):$", log_text, re.M)
    assert len(remote_jobs) == len(submitted), (remote_jobs, submitted)
    # every job Snakemake ran remotely was a SLURM job whose log is kept under its id
    for slurm_id, (_jobid, slurm_log) in submitted.items():
        slurm_log = slurm_log if slurm_log.is_absolute() else tmp_path / slurm_log
        assert slurm_log.name == f"{slurm_id}.log", slurm_log
        assert slurm_log.exists(), slurm_log
        assert slurm_log.resolve().is_relative_to(tmp_path.resolve() / ".snakemake" / "slurm_logs")
    kept = sorted((tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert {p.stem for p in kept} == set(submitted), (kept, submitted)
    assert all(re.fullmatch(r"\d+", p.stem) for p in kept), kept

    # each job SLURM still remembers (MinJobAge=600 s) completed; training asked for a GPU
    rules_seen = set()
    for slurm_id in submitted:
        info = cluster.job_info(slurm_id)
        if not info:
            continue  # purged already (finished more than MinJobAge ago)
        assert info.get("JobState") == "COMPLETED", info
        rule = info.get("Comment", "").removeprefix("rule_").split("_wildcards_")[0]
        rules_seen.add(rule)
        if rule == "train_model":
            assert "gpu:1" in info.get("TresPerJob", ""), info

    # the rules' own logs (results/logs/<rule>/...) were written by those SLURM jobs
    logs_dir = tmp_path / "results" / "logs"
    assert logs_dir.is_dir() and any(p.is_file() for p in logs_dir.rglob("*")), explain(res)
    assert "train_model" in rules_seen or (logs_dir / "train_model").is_dir(), rules_seen

    # the final targets exist and are up to date: a second (dry) run has nothing to do
    again = run_snakemake(cluster, [*args, "-n"], timeout=300)
    assert again.returncode == 0, explain(again)
    assert "Nothing to be done" in again.stdout + again.stderr, explain(again)
