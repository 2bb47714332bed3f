"""What a run costs against the floor of any `python -m` tool.

The floor is `python -m` of an empty package. Runs are taken in interleaved pairs
(floor, gate), so a noisy machine slows both sides of a pair alike, and the report is
the median of the per-pair ratios:

    python benchmarks/startup.py [--pairs 40] [--check]

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
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--check", action="store_true", help="exit 1 when over budget")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        floor_pkg = Path(tmp) / "floorpkg"
        floor_pkg.mkdir()
        (floor_pkg / "__init__.py").write_text("")
        (floor_pkg / "__main__.py").write_text("")
        base = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join([str(ROOT), tmp]),
        }
        floor_argv = [sys.executable, "-m", "floorpkg"]
        gate_argv = [sys.executable, "-m", "ci_deploy_gate"]
        over = False
        print(f"{'case':<26} {'floor ms':>9} {'gate ms':>9} {'ratio':>7} {'budget':>7}")
        for name, (extra, case_args, budget) in CASES.items():
            env = {**base, **extra}
            argv = gate_argv + [a.format(tmp=tmp) for a in case_args]
            for _ in range(3):  # warm the file cache and .pyc files
                _timed(floor_argv, env), _timed(argv, env)
            floors, gates, ratios = [], [], []
            for _ in range(args.pairs):
                floor, gate = _timed(floor_argv, env), _timed(argv, env)
                floors.append(floor)
                gates.append(gate)
                ratios.append(gate / floor)
            ratio = statistics.median(ratios)
            shown_budget = f"{budget:.1f}x" if budget else "-"
            print(
                f"{name:<26} {statistics.median(floors) * 1000:9.1f} "
                f"{statistics.median(gates) * 1000:9.1f} {ratio:6.2f}x {shown_budget:>7}"
            )
            over = over or (budget is not None and ratio > budget)
    return 1 if args.check and over else 0


if __name__ == "__main__":
    raise SystemExit(main())
