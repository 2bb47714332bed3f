"""`init`: a commented starter rules file, and the config.yml step that runs the gate."""

from __future__ import annotations

import argparse
import os

from ci_deploy_gate.commands import VERBOSE_HELP
from ci_deploy_gate.context import ENV_FACTS, ENV_PREFIX
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV
from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.options import DEFAULT_RULES, rules_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

STARTER = """\
# ci-deploy-gate rules: which build fires which deploy job, pinned to CIRCLE_SHA1.
# Reference: the README of ci-deploy-gate; editors validate this file with the schema
# from `python -m ci_deploy_gate schema`. Check it: python -m ci_deploy_gate check
version: 1

circleci:
  token_env: {token_env}   # a project environment variable with a personal token
  # api: v2                          # for a `version: 2.1` config (README: API v2)

rules:
  - name: production
    # the condition language: {facts},
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
{token_env}. Then check it against the config, and try it on this checkout:

    python -m ci_deploy_gate check
    python -m ci_deploy_gate --dry-run
"""


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-deploy-gate init",
        description="Write a commented starter rules file and print the config.yml step.",
    )
    parser.add_argument("--rules", metavar="PATH", help=f"where to write (default {DEFAULT_RULES})")
    parser.add_argument(
        "--job", default="deploy", help="the deploy job to trigger (default deploy)"
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    args = parser.parse_args(argv)
    path = rules_path(args.rules, environ)
    write_starter(path, args.job)
    print(f"wrote {path}\n")
    print(SNIPPET.format(token_env=DEFAULT_TOKEN_ENV), end="")
    return 0


def starter(job: str) -> str:
    """The starter rules file; the facts it names are the fact table's."""
    facts = " ".join([*ENV_FACTS, f"{ENV_PREFIX}NAME"])
    return STARTER.format(job=job, facts=facts, token_env=DEFAULT_TOKEN_ENV)


def write_starter(path: str, job: str) -> None:
    """Create the rules file; one that exists is never overwritten."""
    if os.path.exists(path):
        raise ConfigError(
            f"{path} exists: not overwritten (edit it, or pass --rules PATH for another file)"
        )
    folder = os.path.dirname(path)
    try:
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(starter(job))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
