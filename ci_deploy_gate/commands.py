"""The commands beside the gate itself: `check`, `schema` and `init`.

Each parses its own arguments and returns an exit code; errors are GateErrors, turned
into one line here as in `cli.main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from ci_deploy_gate.errors import EXIT_CONFIG, GateError
from ci_deploy_gate.rules import DEFAULT_PATH as DEFAULT_RULES


def run(command: str, argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    try:
        if command == "check":
            return _check(argv, env)
        if command == "schema":
            return _schema(argv)
        return _init(argv, env)
    except GateError as exc:
        print(f"ci-deploy-gate {command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _check(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-deploy-gate check",
        description="Validate the rules file completely and hold it against the CircleCI "
        "config: trigger jobs exist, the API fits the config version, v2 pipeline "
        "parameters are declared, parallelism, contexts and the token.",
        epilog="exit codes: 0 clean (warnings allowed unless --strict); 2 errors",
    )
    parser.add_argument("--rules", metavar="PATH", help=f"default: {DEFAULT_RULES}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the CircleCI config (default: .circleci/config.yml, skipped when missing)",
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    args = parser.parse_args(argv)

    from ci_deploy_gate.check import check, exit_code, summary

    rules = args.rules or environ.get("DEPLOY_GATE_RULES") or DEFAULT_RULES
    findings = check(rules, args.config, environ)
    code = exit_code(findings, strict=args.strict)
    if args.json:
        import json

        doc = {
            "ok": code == 0,
            "findings": [finding.as_json() for finding in findings],
        }
        print(json.dumps(doc, indent=2))
    else:
        for finding in findings:
            print(finding)
        print(summary(findings))
    return code


def schema_text() -> str:
    """The rules file's JSON Schema, generated from its one description."""
    import json

    from ci_deploy_gate.rules import schema

    return json.dumps(schema(), indent=2) + "\n"


def _schema(argv: Sequence[str]) -> int:
    argparse.ArgumentParser(
        prog="ci-deploy-gate schema",
        description="Print the JSON Schema of the rules file, for editors.",
    ).parse_args(argv)
    sys.stdout.write(schema_text())
    return 0


STARTER = """\
# ci-deploy-gate rules: which build fires which deploy job, pinned to CIRCLE_SHA1.
# Reference: the README of ci-deploy-gate; editors validate this file with the schema
# from `python -m ci_deploy_gate schema`. Check it: python -m ci_deploy_gate check
version: 1

circleci:
  token_env: CIRCLE_API_USER_TOKEN   # a project environment variable with a personal token
  # api: v2                          # for a `version: 2.1` config (README: API v2)

rules:
  - name: production
    # the condition language: branch tag sha pull_request fork user job project env.NAME,
    # is / is not / matches / in [...], and, or, not
    if: branch is main and not pull_request
    # the job to fire: a job under `jobs:` in .circleci/config.yml
    trigger: {job}
"""

SNIPPET = """\
Add a step to the job that builds and tests, after the tests, in .circleci/config.yml:

      - run:
          name: Deploy gate
          command: |
            pip install --user ci-deploy-gate
            python -m ci_deploy_gate --report /tmp/deploy-gate/report.json
      - store_artifacts:
          path: /tmp/deploy-gate

and a CircleCI personal API token in the project environment variable
CIRCLE_API_USER_TOKEN. Then check it against the config, and try it on this checkout:

    python -m ci_deploy_gate check
    python -m ci_deploy_gate --dry-run
"""


def _init(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-deploy-gate init",
        description="Write a commented starter rules file and print the config.yml step.",
    )
    parser.add_argument("--rules", metavar="PATH", help=f"where to write (default {DEFAULT_RULES})")
    parser.add_argument(
        "--job", default="deploy", help="the deploy job to trigger (default deploy)"
    )
    args = parser.parse_args(argv)
    path = args.rules or environ.get("DEPLOY_GATE_RULES") or DEFAULT_RULES
    if os.path.exists(path):
        print(
            f"ci-deploy-gate init: error: {path} exists: not overwritten "
            "(edit it, or pass --rules PATH for another file)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    folder = os.path.dirname(path)
    try:
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(STARTER.format(job=args.job))
    except OSError as exc:
        print(f"ci-deploy-gate init: error: {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"wrote {path}\n")
    print(SNIPPET, end="")
    return 0
