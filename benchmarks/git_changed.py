"""What a `changed` decision costs against `git diff --name-only` of the same range.

Builds a repository (with git fast-import, in seconds) whose last commit adds N files,
then times, in interleaved pairs so a noisy machine slows both sides alike:

  - git:      git diff --name-only -z BASE HEAD, as a process (the floor: git listing
              the paths it changed);
  - decision: in a fresh gate process, deciding (evaluate.decide, whose gitfacts.LazyGit
              reads the range when the first `changed` asks); interpreter start and
              imports are benchmarks/startup.py's business and are left out here;

and reports the median of the per-pair ratios, the whole `python -m ci_deploy_gate` run
for reference, and the gate process's own peak memory (VmHWM: without the git
child) at N files and at N/100. The rules test `changed` and `changed only`, and match no
path: the worst case, where every path is tested.

    python benchmarks/git_changed.py [--files 100000] [--pairs 15] [--check]

Budget (README, "Performance"): the decision within 1.5x of git, and memory flat: the
peak at N files at most 10 MB above the peak at N/100. --check exits 1 when over budget.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
RULES = """\
rules:
  - name: api
    if: changed ["services/api/**", "!services/api/docs/**"] or changed only ["docs/**", "*.md"]
    trigger: deploy_api
"""
FLAT_MB = 10.0


def build(path: Path, files: int) -> tuple[str, str]:
    """A repository whose HEAD adds `files` files under 100 folders; (base, head)."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    lines = [
        "blob",
        "mark :1",
        "data 2",
        "x",
        "commit refs/heads/main",
        "mark :2",
        "committer Bench <b@example.org> 1700000000 +0000",
        "data 4",
        "base",
        "M 100644 :1 README.md",
        "commit refs/heads/main",
        "mark :3",
        "committer Bench <b@example.org> 1700000001 +0000",
        "data 4",
        "bulk",
        "from :2",
    ]
    lines += [f"M 100644 :1 services/web{i % 100}/file{i}.js" for i in range(files)]
    stream = ("\n".join(lines) + "\n").encode()
    subprocess.run(
        ["git", "fast-import", "--quiet"], input=stream, cwd=path, check=True, env=_env()
    )
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True, env=_env())

    def rev(name: str) -> str:
        done = subprocess.run(
            ["git", "rev-parse", name], cwd=path, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    return rev("main~1"), rev("main")


def _env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), **GIT_ENV, **extra}


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds of one run."""
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


# Run in a fresh process: import everything, then time only the decision.
DECISION = """
import json, resource, sys, time
import git
from ci_deploy_gate.context import build_context
from ci_deploy_gate.evaluate import decide, git_needs
from ci_deploy_gate.gitfacts import LazyGit
from ci_deploy_gate.rules import load_rules

rules = load_rules(sys.argv[1])
context = build_context({"CIRCLE_SHA1": sys.argv[2], "CIRCLE_BRANCH": "main"})
started = time.perf_counter()
facts = LazyGit(".", context.sha, git_needs(rules).queries)
outcome = decide(rules, context._replace(git=facts))  # reads the range it needs
elapsed = time.perf_counter() - started
assert not outcome.fire
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would inherit the
# peak of the benchmark process it was forked from.
try:
    with open("/proc/self/status") as status:
        hwm = [line for line in status if line.startswith("VmHWM:")][0]
    peak = int(hwm.split()[1]) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps([elapsed, peak, facts.changed(rules.changed_base).total]))
"""


def decision(rules: Path, head: str, cwd: Path) -> tuple[float, float]:
    """(seconds of the decision, the process's own peak MB)."""
    argv = [sys.executable, "-c", DECISION, str(rules), head]
    done = subprocess.run(
        argv, env=_env(PYTHONPATH=str(ROOT)), cwd=cwd, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"the decision failed: {done.stderr}")
    elapsed, peak, _ = json.loads(done.stdout)
    return float(elapsed), float(peak)


def compare(files: int, pairs: int, tmp: Path) -> tuple[float, float, float]:
    """(median ratio decision/git, median ratio whole run/git, gate peak MB)."""
    repo = tmp / f"repo{files}"
    base, head = build(repo, files)
    rules = tmp / "gate.yml"
    rules.write_text(f"changed_base: {base}\n{RULES}")
    git_argv = ["git", "diff", "--name-only", "-z", base, head]
    gate_argv = [sys.executable, "-m", "ci_deploy_gate", "--rules", str(rules)]
    gate_env = _env(
        PYTHONPATH=str(ROOT),
        CIRCLECI="true",
        CIRCLE_SHA1=head,
        CIRCLE_BRANCH="main",
        CIRCLE_PROJECT_USERNAME="acme",
        CIRCLE_PROJECT_REPONAME="shop",
    )
    for _ in range(2):  # warm the file cache and .pyc files
        measure(git_argv, _env(), repo), decision(rules, head, repo)
    ratios, whole, peaks = [], [], []
    for _ in range(pairs):
        git_s = measure(git_argv, _env(), repo)
        decision_s, peak = decision(rules, head, repo)
        gate_s = measure(gate_argv, gate_env, repo)
        ratios.append(decision_s / git_s)
        whole.append(gate_s / git_s)
        peaks.append(peak)
        print(
            f"  {files:>7} files: git diff {git_s * 1000:6.1f} ms, decision "
            f"{decision_s * 1000:6.1f} ms, whole gate run {gate_s * 1000:6.1f} ms, "
            f"peak {peak:5.1f} MB"
        )
    return statistics.median(ratios), statistics.median(whole), max(peaks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--check", action="store_true", help="exit 1 when over budget")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        small = max(args.files // 100, 1)
        _, _, small_peak = compare(small, 3, tmp)
        ratio, whole, peak = compare(args.files, args.pairs, tmp)
    growth = peak - small_peak
    print(f"decision / git diff --name-only, median of {args.pairs} pairs: {ratio:.2f}x (1.5x)")
    print(f"whole gate run / git diff --name-only: {whole:.2f}x (for reference)")
    print(
        f"gate peak memory: {peak:.1f} MB at {args.files} files, {small_peak:.1f} MB at "
        f"{small} files: +{growth:.1f} MB ({FLAT_MB:g} MB)"
    )
    over = ratio > 1.5 or growth > FLAT_MB
    return 1 if args.check and over else 0


if __name__ == "__main__":
    raise SystemExit(main())
