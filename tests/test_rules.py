from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.model import CircleCISettings
from ci_deploy_gate.rules import RULE as GATE_RULE
from ci_deploy_gate.rules import RULES_FILE, RUN_RULES_FILE, load_rules, parse_rules
from ci_deploy_gate.spec import ListOf, Section
from tests.conftest import ROOT

RULE = "rules: [{name: a, if: fork, trigger: d}]\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_rules(text, "gate.yml")
    return str(caught.value).splitlines()


def test_example_rules_file_loads() -> None:
    rules_file = load_rules(str(ROOT / "rules.example.yaml"))
    assert [rule.name for rule in rules_file.rules] == ["production", "release-tag", "staging"]
    assert rules_file.circleci.token_env == "CIRCLE_API_USER_TOKEN"
    assert rules_file.circleci.url is None
    assert rules_file.match == "first"
    assert rules_file.allow_forks is False
    staging = rules_file.rules[2]
    assert staging.trigger.job == "deploy_staging"
    assert staging.trigger.parameters == (("DEPLOY_ENV", "staging"),)


def test_example_git_rules_load_when_uncommented() -> None:
    """rules.example.yaml keeps its git rules commented out (its quick start runs on a
    fake environment, with no clone of that commit); they must still be right."""
    text = (ROOT / "rules.example.yaml").read_text(encoding="utf-8")
    block = text.split("# BEGIN git example\n")[1].split("  # END git example")[0]
    uncommented = "\n".join(line.replace("  # ", "  ", 1) for line in block.splitlines())
    rules_file = parse_rules(f"rules:\n{uncommented}\n", "example.yml")
    assert [rule.name for rule in rules_file.rules] == ["api", "site"]
    assert rules_file.rules[1].changed_base == "HEAD~1"
    assert rules_file.rules[0].condition.text == (
        'branch is main and changed ["services/api/**", "!services/api/docs/**"] '
        'and not messages contain "[skip deploy]"'
    )


def test_example_windows_load_when_uncommented() -> None:
    text = (ROOT / "rules.example.yaml").read_text(encoding="utf-8")
    block = text.split("# BEGIN time example\n")[1].split("# END time example")[0]
    uncommented = "\n".join(line[2:] for line in block.splitlines())
    rule = "rules:\n  - {name: a, if: within office-hours and not frozen year-end, trigger: d}"
    rules_file = parse_rules(f"{uncommented}\n{rule}\n", "example.yml")
    assert [w.name for w in rules_file.windows] == ["office-hours"]
    assert rules_file.windows[0].days == frozenset({0, 1, 2, 3})
    assert [(f.name, f.reason) for f in rules_file.freezes] == [
        ("year-end", "year-end change freeze")
    ]


def test_defaults_when_only_rules_are_given() -> None:
    rules_file = parse_rules("rules:\n  - {name: a, if: tag matches v*, trigger: d}\n", "g.yml")
    assert rules_file.match == "first"
    assert rules_file.circleci.token_env == "CIRCLE_API_USER_TOKEN"
    assert rules_file.circleci.url is None
    assert rules_file.circleci.vcs is None


def test_a_rules_file_for_run_needs_no_trigger_and_checks_one_given() -> None:
    text = "rules:\n  - {name: a, if: fork}\n  - {name: b, if: fork, trigger: {job: d}}\n"
    rules_file = parse_rules(text, "g.yml", triggers=False)
    assert [(rule.name, rule.trigger and rule.trigger.job) for rule in rules_file.rules] == [
        ("a", None),
        ("b", "d"),
    ]
    with pytest.raises(ConfigError) as caught:
        parse_rules("rules:\n  - {name: a, if: fork, trigger: ''}\n", "g.yml", triggers=False)
    assert str(caught.value) == "g.yml:2: rules[0] (a): trigger: expected a job name"


def test_the_run_description_is_derived_from_the_gates() -> None:
    rules = RUN_RULES_FILE.key("rules").kind
    assert isinstance(rules, ListOf) and isinstance(rules.item, Section)
    rule = rules.item
    assert rule.key("trigger").required is False
    assert GATE_RULE.key("trigger").required is True  # the gate's own is left as it is
    assert [key.name for key in rule.keys] == [key.name for key in GATE_RULE.keys]
    assert [key.name for key in RUN_RULES_FILE.keys] == [key.name for key in RULES_FILE.keys]


def test_unknown_key_names_line_and_suggests() -> None:
    text = (
        "version: 1\nrules:\n  - name: production\n    if: branch is release\n    trigerr: deploy\n"
    )
    assert errors_of(text) == [
        "gate.yml:3: rules[0] (production): missing required key 'trigger'",
        "gate.yml:5: rules[0] (production): unknown key 'trigerr' (did you mean 'trigger'?)",
    ]


def test_every_problem_is_reported_in_line_order() -> None:
    text = """\
version: 2
matchh: all
circleci:
  api: v1.1
  url: http://circleci.com
  token_env: "not a name"
  vcs: gitlab
rules:
  - name: a
    if: branch is
    trigger: deploy
  - name: a
    when: {branch: main}
    trigger: {job: deploy, parameters: {CIRCLE_JOB: x, GOOD: 1.5}}
  - name: c
    if: tag is v1
    when: {tag: v1}
    trigger: ""
"""
    assert errors_of(text) == [
        "gate.yml:1: version: 2 is not supported (this gate reads 1)",
        "gate.yml:2: unknown key 'matchh' (did you mean 'match'?)",
        "gate.yml:5: circleci.url: 'http://circleci.com' would send the API token unencrypted: "
        "use https (http only on loopback)",
        "gate.yml:6: circleci.token_env: 'not a name' is not an environment variable name",
        "gate.yml:7: circleci.vcs: expected one of github, bitbucket, found 'gitlab'",
        "gate.yml:10: rules[0] (a): if: expected a value after 'is' at column 10",
        "gate.yml:12: rules[1] (a): the name is already used by rules[0]",
        "gate.yml:14: rules[1] (a): trigger.parameters: CIRCLE_JOB is set by the trigger's job; "
        "remove it here",
        "gate.yml:14: rules[1] (a): trigger.parameters.GOOD: expected text, found a number "
        "(quote it)",
        "gate.yml:15: rules[2] (c): needs exactly one of 'if' or 'when'",
        "gate.yml:18: rules[2] (c): trigger: expected a job name",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "gate.yml:1: the rules file is empty; it needs a 'rules:' list"),
        ("- a\n", "gate.yml:1: expected a mapping, found a list"),
        ("version: 1\n", "gate.yml:1: missing required key 'rules'"),
        ("rules: []\n", "gate.yml:1: rules: expected a list of rules, found an empty list"),
        ("rules: nothing\n", "gate.yml:1: rules: expected a list of rules, found text"),
        ("rules:\n  - just a string\n", "gate.yml:2: rules[0]: expected a mapping, found text"),
        (
            "rules: [{name: a, if: fork, trigger: d}]\nmatch: some\n",
            "gate.yml:2: match: expected first or all, found 'some'",
        ),
        (
            "rules: [{name: a, if: fork, trigger: d}]\nallow_forks: yes please\n",
            "gate.yml:2: allow_forks: expected true or false, found 'yes please'",
        ),
        (
            "rules: [{name: a, if: fork, trigger: d}]\ncircleci: [x]\n",
            "gate.yml:2: circleci: expected a mapping, found a list",
        ),
        (
            "rules: [{name: a, if: 3, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): if: expected a condition as text, found a number",
        ),
        (
            "rules: [{name: a, when: {brnch: x}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when: unknown fact 'brnch' (did you mean 'branch'?)",
        ),
        (
            "rules: [{name: a, when: {fork: maybe}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.fork: expected true or false, found 'maybe'",
        ),
        (
            "rules: [{name: a, when: {tag: 1.10}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.tag: expected text or a list of text, found a number "
            "1.1 (quote it)",
        ),
        (
            "rules: [{name: a, when: {tag: '/v(/'}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.tag: invalid regex /v(/: missing ), unterminated "
            "subpattern at position 1",
        ),
        (
            "rules: [{name: a, when: {tag: []}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.tag: the list is empty: it would match nothing",
        ),
        (
            "rules: [{name: a, when: {}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when: expected a mapping of facts, found an empty mapping",
        ),
        (
            "rules: [{name: a, if: fork, trigger: {jobb: d}}]\n",
            "gate.yml:1: rules[0] (a): trigger: unknown key 'jobb' (did you mean 'job'?)",
        ),
        (
            "rules:\n  - name: a\n    name: b\n",
            "gate.yml:3:5: not valid YAML: duplicate key 'name'",
        ),
        (
            "changed_base: --output=/tmp/x\nrules: [{name: a, if: fork, trigger: d}]\n",
            "gate.yml:1: changed_base: '--output=/tmp/x' is not a git revision "
            "(e.g. origin/main, HEAD~1, a commit SHA)",
        ),
        (
            "rules: [{name: a, if: fork, trigger: d, changed_base: 3}]\n",
            "gate.yml:1: rules[0] (a): changed_base: expected text, found a number",
        ),
        (
            "rules: [{name: a, when: {changed: []}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.changed: expected a path pattern or a list of them, "
            "found an empty list",
        ),
        (
            "rules: [{name: a, when: {changed: {onyl: [x]}}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.changed: unknown key 'onyl' (did you mean 'only'?)\n"
            "gate.yml:1: rules[0] (a): when.changed: missing required key 'only'",
        ),
        (
            "rules: [{name: a, when: {changed: ['!x']}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.changed: '!x' can match no path: give at least one "
            "pattern that is not '!' (an exclusion), blank or a '#' comment",
        ),
        (
            "rules: [{name: a, when: {message: '[hotfix]'}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.message: expected a mapping, found text",
        ),
        (
            "rules: [{name: a, when: {message: {contains: x, matches: 'rel*'}}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.message.matches: expected a /regex/, found 'rel*'",
        ),
        (
            "rules: [{name: a, when: {messages: {contain: x}}, trigger: d}]\n",
            "gate.yml:1: rules[0] (a): when.messages: unknown key 'contain' "
            "(did you mean 'contains'?)\n"
            "gate.yml:1: rules[0] (a): when.messages: give contains: TEXT or matches: /regex/",
        ),
    ],
)
def test_bad_rules_file_message(text: str, message: str) -> None:
    assert "\n".join(errors_of(text)) == message


def test_when_map_builds_one_condition_per_key() -> None:
    text = """\
rules:
  - name: staging
    when:
      branch: [main, "hotfix/*", "/rel-[0-9]+/"]
      pull_request: false
      env.DEPLOY: "yes"
    trigger: deploy_staging
"""
    rule = parse_rules(text, "g.yml").rules[0]
    assert rule.condition.text == (
        "branch: [main, hotfix/*, /rel-[0-9]+/] and pull_request: false and env.DEPLOY: yes"
    )


def test_trigger_parameters_keep_order_and_type() -> None:
    text = (
        "rules:\n  - name: a\n    if: fork\n    trigger:\n      job: d\n      parameters:\n"
        "        B: 2\n        A: true\n        C: text\n"
    )
    trigger = parse_rules(text, "g.yml").rules[0].trigger
    assert trigger.parameters == (("B", 2), ("A", True), ("C", "text"))


def test_missing_file_says_how_to_name_another(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules(str(tmp_path / "nope.yml"))
    assert str(caught.value) == (
        f"{tmp_path / 'nope.yml'}: rules file not found "
        "(pass --rules PATH or set DEPLOY_GATE_RULES)"
    )


def test_unreadable_bytes_are_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_bytes(b"rules: \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read the rules file"):
        load_rules(str(path))


def test_yaml_syntax_error_names_line_and_column() -> None:
    # The wording is libyaml's or PyYAML's, whichever is installed; the place is ours.
    (message,) = errors_of("rules: [\n")
    assert message.startswith("gate.yml:2:1: not valid YAML: ")


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            *("branch is main", "fork", "deploy", "/x(/", "*", "first", "all", "v1.1", "v2"),
            *("gh/a/b", "${sha}", "${nope}", "$$", "$X", "${env.CIRCLE_API_USER_TOKEN}"),
        ]
    ),
)
_KEYS = st.sampled_from(
    [
        "version",
        "circleci",
        "url",
        "token_env",
        "vcs",
        "match",
        "allow_forks",
        "rules",
        "name",
        "if",
        "when",
        "trigger",
        "job",
        "parameters",
        "branch",
        "fork",
        "env.X",
        "bogus",
        "project",
        "tag",
        "pin",
        "api",
    ]
)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_DOCS)
def test_any_document_loads_or_fails_with_located_messages(doc: object) -> None:
    import yaml

    text = yaml.safe_dump(doc)
    try:
        parse_rules(text, "gate.yml")
    except ConfigError as exc:
        for line in str(exc).splitlines():
            assert line.startswith("gate.yml:"), line


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_fails_cleanly(text: str) -> None:
    try:
        parse_rules(text, "gate.yml")
    except ConfigError as exc:
        assert str(exc).startswith("gate.yml")


# --- API v2, retries, sibling nodes ---------------------------------------------------


def test_v2_settings_are_read() -> None:
    rules_file = parse_rules(
        """\
wait_for_nodes: true
circleci:
  api: v2
  project_slug: circleci/5e1a-org/9f2b-project
  definition_id: 5B1D7E5E-9A4C-4CDE-8F0A-0D2C3B7E9A11
  job_parameter: job
  revision_parameter: sha
  retries: 6
  deadline: 90
rules:
  - name: p
    if: fork
    trigger: {job: deploy, parameters: {replicas: 3, canary: true, region: eu-west-1}}
""",
        "g.yml",
    )
    assert rules_file.wait_for_nodes is True
    assert rules_file.circleci == CircleCISettings(
        api="v2",
        project_slug="circleci/5e1a-org/9f2b-project",
        definition_id="5B1D7E5E-9A4C-4CDE-8F0A-0D2C3B7E9A11",
        job_parameter="job",
        revision_parameter="sha",
        retries=6,
        deadline=90.0,
        api_given=True,
    )
    assert rules_file.rules[0].trigger.parameters == (
        ("replicas", 3),
        ("canary", True),
        ("region", "eu-west-1"),
    )


def test_v2_and_retry_settings_are_checked() -> None:
    text = """\
wait_for_nodes: yes please
circleci:
  api: v3
  retries: 0
  deadline: forever
  project_slug: acme/shop
  definition_id: not-a-uuid
rules:
  - name: p
    if: fork
    trigger: d
"""
    assert errors_of(text) == [
        "gate.yml:1: wait_for_nodes: expected true or false, found 'yes please'",
        "gate.yml:3: circleci.api: expected v1.1 or v2, found 'v3'",
        "gate.yml:4: circleci.retries: expected a whole number from 1 to 10, found 0",
        "gate.yml:5: circleci.deadline: expected a number of seconds from 1 to 3600, "
        "found 'forever'",
        "gate.yml:6: circleci.project_slug: expected gh/ORG/REPO, bb/ORG/REPO or "
        "circleci/ORG-ID/PROJECT-ID, found 'acme/shop'",
        "gate.yml:6: circleci.project_slug: applies only with api: v2 (set circleci.api: v2)",
        "gate.yml:7: circleci.definition_id: expected a pipeline definition id (a UUID), "
        "found 'not-a-uuid'",
        "gate.yml:7: circleci.definition_id: applies only with api: v2 (set circleci.api: v2)",
    ]


def test_v2_parameters_are_checked() -> None:
    text = """\
circleci: {api: v2, job_parameter: job}
rules:
  - name: p
    if: fork
    trigger:
      job: d
      parameters:
        job: clash
        deploy_revision: clash
        9lives: x
        ok: 1.5
"""
    assert errors_of(text) == [
        "gate.yml:8: rules[0] (p): trigger.parameters: job is set by circleci.job_parameter; "
        "remove it here",
        "gate.yml:9: rules[0] (p): trigger.parameters: deploy_revision is set by "
        "circleci.revision_parameter; remove it here",
        "gate.yml:10: rules[0] (p): trigger.parameters: '9lives' is not a pipeline parameter name "
        "(a letter, then letters, digits, _ or -; at most 128)",
        "gate.yml:11: rules[0] (p): trigger.parameters.ok: expected text, found a number "
        "(quote it)",
    ]


def test_the_job_and_revision_need_a_parameter_each() -> None:
    text = "circleci: {api: v2, job_parameter: x, revision_parameter: x}\nrules: []\n"
    assert "gate.yml:1: circleci.revision_parameter: 'x' is also the job_parameter" in "\n".join(
        errors_of(text)
    )


def test_a_blank_value_is_said_to_be_blank() -> None:
    assert errors_of("rules: [{name: '  ', if: fork, trigger: d}]\n") == [
        "gate.yml:1: rules[0]: name: expected text, found blank text"
    ]


def test_circleci_choices_are_text_first() -> None:
    assert errors_of(f"circleci: {{vcs: 5, api: ''}}\n{RULE}") == [
        "gate.yml:1: circleci.vcs: expected text, found a number",
        "gate.yml:1: circleci.api: expected text, found blank text",
    ]
    assert parse_rules(f"circleci: {{api: ' v2 '}}\n{RULE}", "g.yml").circleci.api == "v2"


def test_a_bad_parameter_setting_does_not_hide_the_default_it_leaves() -> None:
    text = (
        "circleci: {api: v2, job_parameter: 'bad name'}\n"
        "rules: [{name: p, if: fork, trigger: {job: d, parameters: {deploy_job: x}}}]\n"
    )
    assert errors_of(text) == [
        "gate.yml:1: circleci.job_parameter: 'bad name' is not a pipeline parameter name "
        "(a letter, then letters, digits, _ or -; at most 128)",
        "gate.yml:2: rules[0] (p): trigger.parameters: deploy_job is set by "
        "circleci.job_parameter; remove it here",
    ]


def test_a_freeze_name_hint_names_each_freeze_once() -> None:
    text = (
        "freezes:\n"
        "  - {name: x, from: 2026-01-01, to: 2026-01-02, timezone: UTC}\n"
        "  - {name: ' ', from: 2026-01-01, to: 2026-01-02, timezone: UTC}\n"
        "rules: [{name: a, if: frozen y, trigger: d}]\n"
    )
    assert errors_of(text)[-1] == "gate.yml:4: rules[0] (a): unknown freeze 'y' (freezes: x)"


def test_if_true_in_yaml_is_the_condition_true() -> None:
    rule = parse_rules("rules: [{name: a, if: true, trigger: d}]\n", "g.yml").rules[0]
    assert rule.condition.text == "true"


def test_the_settings_say_whether_the_file_names_the_api() -> None:
    assert parse_rules(RULE, "g.yml").circleci.api_given is False
    named = parse_rules(f"circleci: {{api: v2}}\n{RULE}", "g.yml").circleci
    assert (named.api, named.api_given) == ("v2", True)


def test_example_targets_load_when_uncommented() -> None:
    text = (ROOT / "rules.example.yaml").read_text(encoding="utf-8")
    block = text.split("# BEGIN target example\n")[1].split("  # END target example")[0]
    uncommented = "\n".join(line.replace("  # ", "  ", 1) for line in block.splitlines())
    rules_file = parse_rules(f"match: all\nrules:\n{uncommented}\n", "example.yml")
    docs, web = (rule.trigger for rule in rules_file.rules)
    assert (docs.project, docs.branch, docs.pin, docs.token_env) == (
        "gh/acme/docs",
        "master",
        False,
        "DOCS_TOKEN",
    )
    assert (web.job, web.pin, web.parameters) == (None, False, (("web", True),))
