"""`init`: a commented starter rules file (API v2), the config.yml step that runs the
gate, and what the CircleCI config still needs for the pipelines the gate fires."""

from __future__ import annotations

import argparse
import os

from ci_deploy_gate.ciconfig import DEFAULT_CONFIG, Config, load_config
from ci_deploy_gate.commands import VERBOSE_HELP
from ci_deploy_gate.context import ENV_FACTS, ENV_PREFIX
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV
from ci_deploy_gate.deployconfig import gaps, undeclared, v1_trigger
from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.model import CircleCISettings, Trigger
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
  api: v2                   # a pipeline of the `version: 2.1` config, the job and
                            # CIRCLE_SHA1 as pipeline parameters (README: Use it in config.yml)

rules:
  - name: production
    # the condition language: {facts},
    # is / is not / matches / in [...], and, or, not
    if: branch is main and not pull_request
    # the job to fire: a job under `jobs:` in .circleci/config.yml
    trigger: {job}
  # Another project's pipeline, with this build's values (README: Trigger targets):
  # - name: docs
  #   if: branch is main
  #   trigger:
  #     project: gh/ORG/docs
  #     branch: master
  #     token_env: DOCS_TOKEN
  #     parameters:
  #       site_version: ${{sha}}
  # Or deploy inside this job instead: python -m ci_deploy_gate run -- ./deploy.sh
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
{token_env} (API v2 takes no project token). Then check it against the config,
and try it on this checkout:

    python -m ci_deploy_gate check
    python -m ci_deploy_gate --dry-run
"""


CONFIG_21 = """\
    version: 2.1
    parameters:
      deploy_job: {{type: string, default: ""}}
      deploy_revision: {{type: string, default: ""}}
    jobs:
      # build: the job that builds and tests, with the gate step below
      {job}:
        docker: [{{image: cimg/base:current}}]
        environment:
          DEPLOY_REVISION: << pipeline.parameters.deploy_revision >>
        steps:
          - checkout
          - run:
              name: Check out the deploy revision
              command: |
                case "$DEPLOY_REVISION" in
                  "" | *[!0-9a-f]*) echo "DEPLOY_REVISION is not a commit SHA" >&2; exit 1 ;;
                esac
                git checkout --detach "$DEPLOY_REVISION"
          - run: ./deploy.sh
    workflows:
      build:
        when:
          equal: ["", << pipeline.parameters.deploy_job >>]
        jobs: [build]
      {job}:
        when:
          equal: [{job}, << pipeline.parameters.deploy_job >>]
        jobs:
          - {job}:
              serial-group: << pipeline.project.slug >>/{job}
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
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"the CircleCI config to read (default: {DEFAULT_CONFIG}, none when missing)",
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    args = parser.parse_args(argv)
    path = rules_path(args.rules, environ)
    config = load_config(args.config)
    if config is not None:
        refuse_v1_config(config)
    write_starter(path, args.job)
    print(f"wrote {path}\n")
    print(config_needs(config, args.job))
    print(SNIPPET.format(token_env=DEFAULT_TOKEN_ENV), end="")
    return 0


def refuse_v1_config(config: Config) -> None:
    """A `version: 2` config that fires jobs through v1.1 with curl wants `migrate`, not a
    new rules file: v2 rules would fire pipelines it cannot read, and v1.1 rules would
    start a gate on an API CircleCI removes on 1 February 2027."""
    found = v1_trigger(config) if config.version in ("2", "2.0") else None
    if found:
        job, line = found
        raise ConfigError(
            f"{config.path}:{line}: jobs.{job} fires a job through API v1.1, which CircleCI "
            "removes on 1 February 2027: nothing written; run `python -m ci_deploy_gate "
            "migrate` to move the config to 2.1 pipelines, then `init` again"
        )


def config_needs(config: Config | None, job: str) -> str:
    """What the config lacks for the pipelines the gate fires, as YAML to add, from the
    analysis `check` reports; or that it has it all."""
    if config is None:
        return f"No {DEFAULT_CONFIG} here: the gate's pipelines need a 2.1 config like\n\n" + (
            CONFIG_21.format(job=job)
        )
    pieces: list[str] = []
    if config.version != "2.1":
        pieces.append(
            f"{config.path}:{config.line('version')}: version: the gate's API v2 pipelines "
            "need `version: 2.1` (`python -m ci_deploy_gate migrate` moves a `version: 2` "
            "config)\n\n    version: 2.1\n"
        )
    jobs = [name for name in config.section("jobs")]
    if job not in jobs:
        known = ", ".join(jobs) or "none"
        pieces.append(
            f"{config.path}:{config.line('jobs')}: jobs: no job {job!r} to deploy: pass "
            f"--job with the deploy job (jobs here: {known})\n"
        )
    settings = CircleCISettings(api_given=True)
    missing = undeclared(config, settings)
    if missing:
        declared = "".join(f'      {name}: {{type: string, default: ""}}\n' for name in missing)
        pieces.append(
            f"{config.path}:{config.line('parameters')}: parameters: declare what the gate "
            f"sends\n\n    parameters:\n{declared}"
        )
    for gap in gaps(config, settings, [Trigger(job, ())]):
        fix = "".join(f"    {line}\n" for line in gap.fix.splitlines())
        pieces.append(f"{config.path}:{gap.line}: {gap.level}: {gap.where}: {gap.message}\n\n{fix}")
    if not pieces:
        return (
            f"{config.path} has what the gate's pipelines need for {job}: the parameters, "
            "a workflow chosen by the job parameter, the pinned checkout, the push workflows "
            "kept out, and a serial group.\n"
        )
    return f"{config.path} still needs, for the pipelines the gate fires:\n\n" + "\n".join(pieces)


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
