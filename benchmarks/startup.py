"""What a run costs against the floor of any `python -m` tool.

The floor is `python -m` of an empty package. Runs are taken in interleaved pairs
(floor, gate), so a noisy machine slows both sides of a pair alike, and the report is
the median of the per-pair ratios:

    python benchmarks/startup.py [--pairs 40] [--check] [--against REV]

--against REV also runs the gate as it was at git revision REV (a detached worktree in a
temporary folder), interleaved with the other two, and prints both ratios and
this/REV: whether a change made a path slower, measured in one run. So that an installed
copy cannot shadow either tree, all three processes then start with `python -S` and find
the dependencies through PYTHONPATH; that floor skips `site`, so the ratios of such a run
are higher than a plain run's and only comparable with each other.

Budgets (README, "Performance"): a node-1 skip within 1.5x the floor, a run whose
rules match nothing within 3x. --check exits 1 when a median ratio is over budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    # name: (extra environment, arguments, budget)
    "node 1 of 4 (skip)": ({"CIRCLE_NODE_INDEX": "1", "CIRCLE_NODE_TOTAL": "4"}, [], 1.5),
    "node 1 of 4, --report": (
        {"CIRCLE_NODE_INDEX": "1", "CIRCLE_NODE_TOTAL": "4"},
        ["--report", "{tmp}/report.json"],
        None,
    ),
    "node 0, no rule matches": (
        {
            "CIRCLECI": "true",
            "CIRCLE_BRANCH": "feature/login",
            "CIRCLE_SHA1": "4abf27c499581fceaa1a3d2903d99a9e4262c920",
            "CIRCLE_PROJECT_USERNAME": "acme",
            "CIRCLE_PROJECT_REPONAME": "shop",
        },
        ["--rules", str(ROOT / "rules.example.yaml")],
        3.0,
    ),
}


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    # from an empty folder: `python -m` puts the current folder first on sys.path
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, cwd=env["HOME"])
    return time.perf_counter() - started


def _same_package(python: list[str], env: dict[str, str], root: Path) -> None:
    """Refuse to time another copy than meant (an installed one shadowing PYTHONPATH)."""
    found = subprocess.run(
        [*python, "-c", "import ci_deploy_gate; print(ci_deploy_gate.__file__)"],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"benchmark: ci_deploy_gate comes from {found}, not {root}")


def _worktree(revision: str, folder: str) -> Path:
    """The package as it was at `revision`, checked out beside this run."""
    path = Path(folder) / "against"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path), revision],
        check=True,
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--check", action="store_true", help="exit 1 when over budget")
    parser.add_argument("--against", metavar="REV", help="also time the gate at git REV")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        floor_pkg = Path(tmp) / "floorpkg"
        floor_pkg.mkdir()
        (floor_pkg / "__init__.py").write_text("")
        (floor_pkg / "__main__.py").write_text("")
        other = _worktree(args.against, tmp) if args.against else None
        try:
            return _run(args, tmp, other)
        finally:
            if other is not None:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)],
                    check=True,
                )


def _run(args: argparse.Namespace, tmp: str, other: Path | None) -> int:
    import sysconfig

    # with --against, no site: an editable or installed copy must not shadow either tree
    python = [sys.executable, "-S"] if other is not None else [sys.executable]
    libraries = [sysconfig.get_paths()["purelib"]] if other is not None else []

    def environment(root: Path, extra: dict[str, str]) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join([str(root), tmp, *libraries]),
            "HOME": tmp,
            **extra,
        }

    floor_argv = [*python, "-m", "floorpkg"]
    gate_argv = [*python, "-m", "ci_deploy_gate"]
    over = False
    header = f"{'case':<26} {'floor ms':>9} {'gate ms':>9} {'ratio':>7} {'min-max':>11}"
    if other is not None:
        header += f" {'REV ms':>8} {'REV ratio':>9} {'this/REV':>9}"
    print(header + f" {'budget':>7}")
    for name, (extra, case_args, budget) in CASES.items():
        env = environment(ROOT, extra)
        other_env = environment(other, extra) if other is not None else env
        case = [a.format(tmp=tmp) for a in case_args]
        argv = gate_argv + case
        other_argv = gate_argv + [a.replace(str(ROOT), str(other or ROOT)) for a in case]
        _same_package(python, env, ROOT)
        _same_package(python, other_env, other or ROOT)
        for _ in range(3):  # warm the file cache and .pyc files
            _timed(floor_argv, env), _timed(argv, env), _timed(other_argv, other_env)
        floors, gates, others, ratios, other_ratios, versus = [], [], [], [], [], []
        for _ in range(args.pairs):
            floor, gate = _timed(floor_argv, env), _timed(argv, env)
            floors.append(floor)
            gates.append(gate)
            ratios.append(gate / floor)
            if other is not None:
                before = _timed(other_argv, other_env)
                others.append(before)
                other_ratios.append(before / floor)
                versus.append(gate / before)
        ratio = statistics.median(ratios)
        line = (
            f"{name:<26} {statistics.median(floors) * 1000:9.1f} "
            f"{statistics.median(gates) * 1000:9.1f} {ratio:6.2f}x "
            f"{min(ratios):5.2f}-{max(ratios):4.2f}x"
        )
        if other is not None:
            line += (
                f" {statistics.median(others) * 1000:8.1f} {statistics.median(other_ratios):8.2f}x"
                f" {statistics.median(versus):8.2f}x"
            )
        print(line + f" {f'{budget:.1f}x' if budget else '-':>7}")
        over = over or (budget is not None and ratio > budget)
    return 1 if args.check and over else 0


if __name__ == "__main__":
    raise SystemExit(main())
