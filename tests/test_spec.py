"""The rules file is described once (`rules.RULES_FILE`): the validator, the JSON Schema,
the record defaults and the README's tables must all say what that description says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from ci_deploy_gate.context import ENV_FACT, ENV_FACTS, FACTS
from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.model import CircleCISettings
from ci_deploy_gate.rules import CIRCLECI, RULES_FILE, parse_rules, schema
from ci_deploy_gate.spec import Choice, ListOf, MapOf, Section, TextOr
from tests.conftest import ROOT

RULE = "rules: [{name: a, if: fork, trigger: d}]\n"


def sections(
    section: Section, found: dict[str, Any], path: str = ""
) -> Iterator[tuple[str, Section, dict[str, Any]]]:
    """Every mapping of the description, with the part of the JSON Schema that is its."""
    yield path, section, found
    for key in section.keys:
        kind, part = key.kind, found["properties"][key.name]
        inner = f"{path}.{key.name}" if path else key.name
        if isinstance(kind, ListOf):
            kind, part, inner = kind.item, part["items"], f"{inner}[]"
        elif isinstance(kind, MapOf):
            kind, part, inner = kind.value, part["additionalProperties"], f"{inner}.NAME"
        elif isinstance(kind, TextOr):
            kind, part = kind.section, part["anyOf"][1]
        if isinstance(kind, Section):
            yield from sections(kind, part, inner)


ALL = list(sections(RULES_FILE, schema()))


@pytest.mark.parametrize(("path", "section", "part"), ALL, ids=[path or "top" for path, *_ in ALL])
def test_schema_has_exactly_the_keys_defaults_enums_and_required_of_the_description(
    path: str, section: Section, part: dict[str, Any]
) -> None:
    assert list(part["properties"]) == [key.name for key in section.keys]
    assert part["additionalProperties"] is False
    assert part.get("required", []) == [key.name for key in section.keys if key.required]
    for key in section.keys:
        said = part["properties"][key.name]
        assert said.get("default") == key.default, key.name
        if isinstance(key.kind, Choice):
            assert said["enum"] == list(key.kind.values)


def validate(text: str) -> list[str]:
    document = yaml.safe_load(text)
    return [e.message for e in jsonschema.Draft202012Validator(schema()).iter_errors(document)]


def gate_accepts(text: str) -> bool:
    try:
        parse_rules(text, "g.yml")
    except ConfigError:
        return False
    return True


def choices() -> Iterator[tuple[str, str]]:
    """(a rules file setting the choice to VALUE, a value) for every choice described."""
    for key in RULES_FILE.keys:
        if isinstance(key.kind, Choice):
            yield from ((f"{key.name}: VALUE\n", value) for value in key.kind.values)
    for key in CIRCLECI.keys:
        if isinstance(key.kind, Choice):
            yield from ((f"circleci: {{{key.name}: VALUE}}\n", value) for value in key.kind.values)


@pytest.mark.parametrize(("template", "value"), list(choices()))
def test_validator_and_schema_agree_on_every_choice(template: str, value: str) -> None:
    good = template.replace("VALUE", value) + RULE
    bad = template.replace("VALUE", "bogus") + RULE
    assert validate(good) == []
    assert gate_accepts(good)
    assert validate(bad) != []
    assert not gate_accepts(bad)


# a valid document holding each mapping of the file; BOGUS marks where an unknown key goes
HOLDERS = {
    "": "BOGUS" + RULE,
    "circleci": "circleci: {BOGUSapi: v1.1}\n" + RULE,
    "windows.NAME": "windows: {w: {BOGUStimezone: UTC, days: mon, hours: '09:00-10:00'}}\n" + RULE,
    "freezes[]": "freezes: [{BOGUSname: f, from: '2026-01-01', to: '2026-01-02', timezone: UTC}]\n"
    + RULE,
    "rules[]": "rules: [{BOGUSname: a, if: fork, trigger: d}]\n",
    "rules[].trigger": "rules: [{name: a, if: fork, trigger: {BOGUSjob: d}}]\n",
}


@pytest.mark.parametrize("path", list(HOLDERS))
def test_validator_and_schema_agree_on_unknown_keys(path: str) -> None:
    holder = HOLDERS[path]
    good = holder.replace("BOGUS", "")
    bad = holder.replace("BOGUS", "bogus: 1\n" if path == "" else "bogus: 1, ")
    assert (validate(good), gate_accepts(good)) == ([], True)
    assert validate(bad) != []
    assert not gate_accepts(bad)


def test_every_mapping_has_a_holder() -> None:
    assert list(HOLDERS) == [path for path, *_ in ALL]


def test_record_defaults_are_the_described_defaults() -> None:
    described = {key.name: key.default for key in CIRCLECI.keys}
    recorded = CircleCISettings()._asdict()
    assert recorded.pop("api_given") is False  # not a key: whether the file names `api`
    assert recorded == described
    assert parse_rules(RULE, "g.yml").circleci == CircleCISettings()


def test_readme_key_table_lists_every_key_of_the_description() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## The rules file")[1].split("\n### ")[0]
    listed = re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE)
    described = []  # a section is listed by its keys, a list of rules by a rule's keys
    for key in RULES_FILE.keys:
        kind = key.kind.item if isinstance(key.kind, ListOf) and key.name == "rules" else key.kind
        prefix = f"{key.name}[]." if kind is not key.kind else f"{key.name}."
        if isinstance(kind, Section):
            described.extend(prefix + inner.name for inner in kind.keys)
        else:
            described.append(key.name)
    assert listed == described


def test_readme_fact_table_is_the_fact_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Facts")[1].split("\n\n")[1]
    rows = [f"| `{name}` | {fact.description} |" for name, fact in FACTS.items()]
    rows.insert(len(ENV_FACTS), f"| `env.NAME` | {ENV_FACT.description} |")  # after them
    assert table.splitlines()[2:] == rows


@pytest.mark.parametrize(("path", "section", "part"), ALL, ids=[path or "top" for path, *_ in ALL])
def test_a_key_that_needs_another_comes_after_it(
    path: str, section: Section, part: dict[str, Any]
) -> None:
    """Keys are read in the description's order: `only_with` looks at a key read before."""
    names = [key.name for key in section.keys]
    for index, key in enumerate(section.keys):
        if key.only_with:
            assert key.only_with[0] in names[:index], key.name


def test_the_settings_are_read_before_the_rules_whose_parameters_follow_them() -> None:
    names = [key.name for key in RULES_FILE.keys]
    assert names.index("circleci") < names.index("rules")
