from __future__ import annotations

from ci_deploy_gate.context import build_context
from ci_deploy_gate.evaluate import decide
from ci_deploy_gate.model import RulesFile
from ci_deploy_gate.rules import parse_rules
from tests.conftest import circle_env

THREE_RULES = """\
match: {match}
allow_forks: {forks}
rules:
  - name: production
    if: branch is release
    trigger: deploy_docker
  - name: also-production
    if: branch matches rel*
    trigger: deploy_docker
  - name: staging
    if: not pull_request
    trigger: deploy_staging
"""


def rules(match: str = "first", forks: str = "false") -> RulesFile:
    return parse_rules(THREE_RULES.format(match=match, forks=forks), "g.yml")


def test_first_matching_rule_fires_alone() -> None:
    decision = decide(rules(), build_context(circle_env()))
    assert decision.fire is True
    assert decision.rule == "production"
    assert [(f.rule, f.trigger.job) for f in decision.fires] == [("production", "deploy_docker")]
    assert decision.reason == "rule 'production' matched"
    assert [r.matched for r in decision.results] == [True, None, None]  # not evaluated


def test_match_all_fires_each_job_once_for_every_rule_it_serves() -> None:
    from ci_deploy_gate.targets import plan

    context = build_context(circle_env())
    decision = decide(rules("all"), context)
    assert [(f.rule, f.trigger.job) for f in decision.fires] == [
        ("production", "deploy_docker"),
        ("also-production", "deploy_docker"),
        ("staging", "deploy_staging"),
    ]
    assert decision.reason == "rules 'production', 'also-production', 'staging' matched"
    targets = plan(decision.fires, context, rules("all").circleci)
    assert [(t.job, t.rules) for t in targets] == [
        ("deploy_docker", ("production", "also-production")),
        ("deploy_staging", ("staging",)),
    ]


def test_no_match_skips_with_every_rule_explained() -> None:
    decision = decide(
        rules(), build_context(circle_env(CIRCLE_BRANCH="main", CIRCLE_PR_NUMBER="4"))
    )
    assert (decision.fire, decision.rule, decision.fires) == (False, None, ())
    assert decision.reason == "no rule matched"
    staging = decision.results[2]
    assert [(a.condition, a.result, a.actual) for a in staging.conditions] == [
        ("not pull_request", False, True)
    ]


def test_forked_pull_request_never_fires_by_default() -> None:
    fork = circle_env(CIRCLE_PR_USERNAME="mallory", CIRCLE_PR_NUMBER="9")
    decision = decide(rules(), build_context(fork))
    assert decision.fire is False
    assert decision.rule == "production"
    assert decision.reason == (
        "rule 'production' matched, but this is a forked pull request: its code comes from "
        "outside the project and CircleCI withholds its secrets "
        "(set allow_forks: true in the rules file to deploy forks)"
    )


def test_allow_forks_lets_a_fork_fire() -> None:
    fork = circle_env(CIRCLE_PR_USERNAME="mallory")
    assert decide(rules(forks="true"), build_context(fork)).fire is True
