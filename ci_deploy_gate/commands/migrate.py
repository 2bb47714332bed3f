"""`migrate`: move a config that fires jobs through the v1/v1.1 trigger API (removed on
1 February 2027) to `version: 2.1` and a rules file for API v2. Prints both as diffs;
with --write, writes them and checks the result."""

from __future__ import annotations

import argparse
import difflib

from ci_deploy_gate.ciconfig import DEFAULT_CONFIG
from ci_deploy_gate.commands import VERBOSE_HELP
from ci_deploy_gate.options import DEFAULT_RULES, rules_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ci_deploy_gate.migration.plan import Plan


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-deploy-gate migrate",
        description="Turn a version 2 config whose step fires jobs with curl through API "
        "v1/v1.1 into a version 2.1 config and a rules file for API v2 pipelines. Without "
        "--write, print both as diffs and change nothing.",
        epilog="exit codes: 0 migrated, printed, or nothing to migrate; 2 refused (a test "
        "or trigger that cannot be translated exactly, an existing rules file, a config "
        "that is not YAML), or --write and the result fails check",
    )
    parser.add_argument(
        "--config", metavar="PATH", default=DEFAULT_CONFIG, help=f"default: {DEFAULT_CONFIG}"
    )
    parser.add_argument(
        "--rules", metavar="PATH", help=f"the rules file to create (default: {DEFAULT_RULES})"
    )
    parser.add_argument(
        "--write", action="store_true", help="write both files, then run check on them"
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    args = parser.parse_args(argv)
    from ci_deploy_gate.migration.plan import make_plan

    rules = rules_path(args.rules, environ)
    plan = make_plan(args.config, rules)
    if plan is None:
        print(f"{args.config}: nothing to migrate: no step fires a job through API v1/v1.1")
        return 0
    if not args.write:
        print(diffs(plan), end="")
        print(notes(plan), end="")
        return 0
    return write(plan, environ)


def diffs(plan: Plan) -> str:
    config = difflib.unified_diff(
        plan.old_config.splitlines(keepends=True),
        plan.new_config.splitlines(keepends=True),
        fromfile=plan.config_path,
        tofile=plan.config_path,
    )
    rules = difflib.unified_diff(
        [], plan.rules.splitlines(keepends=True), fromfile="/dev/null", tofile=plan.rules_path
    )
    return "".join(config) + "".join(rules)


def notes(plan: Plan) -> str:
    return "\n" + "".join(f"note: {note}\n" for note in plan.notes)


def write(plan: Plan, environ: Mapping[str, str]) -> int:
    """Both files or neither, then `check`: each is written to a temporary file beside
    it, the rules file linked into place (it must not exist), then the config renamed
    over the old one; when that fails, the new rules file goes again."""
    from ci_deploy_gate.commands.check import check, exit_code, summary
    from ci_deploy_gate.migration.rulesfile import write_both

    write_both(plan.config_path, plan.new_config, plan.rules_path, plan.rules, plan.newline)
    print(f"wrote {plan.config_path}")
    print(f"wrote {plan.rules_path}")
    print(notes(plan), end="")
    print(f"\n$ ci-deploy-gate check --rules {plan.rules_path} --config {plan.config_path}")
    findings = check(plan.rules_path, plan.config_path, environ)
    for finding in findings:
        print(finding)
    print(summary(findings))
    return exit_code(findings, strict=False)
