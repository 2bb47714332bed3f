"""Shell tests into the `if` language: the text each form becomes, and, for every form,
the same answer as bash itself for unset, empty and many set values."""

from __future__ import annotations

import contextlib
import itertools
import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_deploy_gate.conditions import evaluate
from ci_deploy_gate.context import build_context
from ci_deploy_gate.expr import parse
from ci_deploy_gate.migration import Refused
from ci_deploy_gate.migration.ifexpr import render
from ci_deploy_gate.migration.shell import parse_script
from ci_deploy_gate.migration.triggers import find_triggers

CURL = (
    "curl -u $T: -d build_parameters[CIRCLE_JOB]=deploy "
    "https://circleci.com/api/v1.1/project/github/o/r/tree/$CIRCLE_BRANCH"
)


def translated(test: str) -> str:
    """The condition of `if TEST; then <trigger>; fi`, as the rules file says it."""
    (trigger,) = find_triggers(parse_script(f"if {test}; then\n  {CURL}\nfi"))
    return render(trigger.guard)


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ('[[ "$CIRCLE_BRANCH" == "release" ]]', "branch is release"),
        ('[ "${CIRCLE_BRANCH}" = release ]', "branch is release"),
        ('[ "$CIRCLE_BRANCH" == release ]', "branch is release"),  # literal in [ ]
        ("[[ $CIRCLE_BRANCH != main ]]", "not branch is main"),
        ("[[ $CIRCLE_BRANCH == release/* ]]", "branch matches release/*"),
        ('[[ $CIRCLE_BRANCH == "release/*" ]]', "branch is release/*"),  # quoted: literal
        ("[[ $CIRCLE_BRANCH == rel[0-9]* ]]", 'branch matches "rel[0-9]*"'),
        ("[[ $CIRCLE_BRANCH == v[![:digit:]]* ]]", "branch matches /v[^0-9](?s:.*)/"),
        ("[[ $CIRCLE_BRANCH == * ]]", "true"),  # "" matches * in bash
        ("[[ $CIRCLE_BRANCH =~ ^maintenance/[0-9]+$ ]]", r"branch matches /maintenance\/[0-9]+/"),
        ("[[ $CIRCLE_BRANCH =~ hotfix ]]", "branch matches /(?s).*hotfix.*/"),
        ("[[ $CIRCLE_BRANCH =~ ^(a|b)$ ]]", "branch matches /(a|b)/"),
        ("[[ $CIRCLE_BRANCH =~ ^a|b$ ]]", r"branch matches /(?s).*(?:^a|b\Z).*/"),
        ("[[ $CIRCLE_BRANCH =~ x* ]]", 'not branch matches "*" or branch matches /(?s).*x*.*/'),
        ('[ -n "$CIRCLE_TAG" ]', 'tag matches "*"'),
        ('[ -z "$CIRCLE_PULL_REQUEST" ]', 'not env.CIRCLE_PULL_REQUEST matches "*"'),
        ('[ ! -z "$CIRCLE_TAG" ]', 'tag matches "*"'),
        ('[ "$CIRCLE_TAG" ]', 'tag matches "*"'),
        ("[[ $CIRCLE_USERNAME ]]", 'user matches "*"'),
        ("[[ true ]]", "true"),
        ("[[ false ]]", "true"),  # a non-empty word: bash says yes
        ("true", "true"),
        ("false", "false"),
        (
            '[[ -n "$CIRCLE_TAG" && ! $CIRCLE_BRANCH == main ]]',
            'tag matches "*" and not branch is main',
        ),
        (
            "[[ ( $CIRCLE_BRANCH == a || $CIRCLE_BRANCH == b ) && -z $CIRCLE_PR_NUMBER ]]",
            '(branch is a or branch is b) and not env.CIRCLE_PR_NUMBER matches "*"',
        ),
        (
            '[ "$CIRCLE_BRANCH" = main ] && [ -z "$CIRCLE_PR_USERNAME" ]',
            'branch is main and not env.CIRCLE_PR_USERNAME matches "*"',
        ),
        (
            '! [ "$CIRCLE_BRANCH" = main ] || [ -n "$CIRCLE_TAG" ]',
            'not branch is main or tag matches "*"',
        ),
        ("[ $CIRCLE_BRANCH = main ]", "branch is main"),  # empty: `[ = main ]` fails
        ("[ $CIRCLE_BRANCH != main ]", 'branch matches "*" and not branch is main'),
        ('[[ "$CIRCLE_JOB" == "build" ]]', "job is build"),
        ('[[ "$MY_FLAG" == "yes" ]]', "env.MY_FLAG is yes"),
        ("[[ $CIRCLE_BRANCH == 'a b' ]]", 'branch is "a b"'),
        # `[` sees its words after quote removal: quoted operators are operators
        ('[ "$CIRCLE_BRANCH" "=" "main" ]', "branch is main"),
        ('[ "$CIRCLE_BRANCH" \\= main ]', "branch is main"),
        ('[ "-n" "$CIRCLE_TAG" ]', 'tag matches "*"'),
        ("test '!' \"$CIRCLE_TAG\"", 'not tag matches "*"'),
        ('[ "$CIRCLE_BRANCH" = main "]"', "branch is main"),
        ("[[ $CIRCLE_BRANCH == and ]]", 'branch is "and"'),
    ],
)
def test_translation(test: str, expected: str) -> None:
    assert translated(test) == expected
    parse(expected)


@pytest.mark.parametrize(
    ("test", "reason"),
    [
        (
            "[[ $CIRCLE_BRANCH == @(a|b) ]]",
            "an extended glob (@(...), !(...), +(...)) is not translated",
        ),
        (
            "[[ $CIRCLE_BRANCH == [[:alpha:]]* ]]",
            "[:alpha:] depends on the locale: write the characters out",
        ),
        ("[ -f deploy.lock ]", "`-f` tests the file system, not the build"),
        ("[[ main == $OTHER ]]", "the unquoted $OTHER after `==` is a pattern: quote it"),
        (
            '[[ $CIRCLE_BRANCH == "$OTHER" ]]',
            '"$OTHER": a comparison of two variables cannot be a gate condition',
        ),
        ("[ $MY_VAR = x ]", "the unquoted $MY_VAR in `[` splits into words: quote it"),
        (
            '[ "$CIRCLE_BRANCH" = rel* ]',
            "the unquoted rel* in `[` is expanded against file names: quote it",
        ),
        (
            "[[ $CIRCLE_BUILD_NUM -gt 5 ]]",
            "`-gt` compares numbers, files or sort order, not a value the gate has",
        ),
        (
            '[[ "$CIRCLE_BRANCH-x" == a ]]',
            '"$CIRCLE_BRANCH-x": only a whole $VARIABLE or a literal can be compared',
        ),
        ("[[ $CIRCLE_BRANCH =~ (?i)main ]]", "(?i)main: `(?` is not a POSIX regex"),
        (
            '[ "$CIRCLE_BRANCH" "$OP" main ]',
            '"$OP" stands where `[` reads an operator: write it out',
        ),
        ('[ "$OP" "$CIRCLE_TAG" ]', '"$OP" stands where `[` reads an operator: write it out'),
    ],
)
def test_what_cannot_be_said_exactly_is_refused(test: str, reason: str) -> None:
    with pytest.raises(Refused) as caught:
        translated(test)
    assert caught.value.reason == reason


# --- the same answer as bash -----------------------------------------------------------

TESTS = [
    '[[ "$CIRCLE_BRANCH" == "release" ]]',
    '[ "${CIRCLE_BRANCH}" = release ]',
    "[[ $CIRCLE_BRANCH != release ]]",
    "[[ $CIRCLE_BRANCH == release/* ]]",
    "[[ $CIRCLE_BRANCH == *hotfix* ]]",
    "[[ $CIRCLE_BRANCH == * ]]",
    "[[ $CIRCLE_BRANCH == ? ]]",
    "[[ $CIRCLE_BRANCH == [mr]* ]]",
    "[[ $CIRCLE_BRANCH == [!mr]* ]]",
    "[[ $CIRCLE_BRANCH == [^mr]* ]]",
    "[[ $CIRCLE_BRANCH == []m]* ]]",
    "[[ $CIRCLE_BRANCH == *[[:digit:]] ]]",
    "[[ $CIRCLE_BRANCH == '*'* ]]",
    r"[[ $CIRCLE_BRANCH == \** ]]",
    "[[ $CIRCLE_BRANCH == *.* ]]",
    "[[ $CIRCLE_BRANCH =~ ^maintenance/[0-9]+\\.[0-9]+$ ]]",
    "[[ $CIRCLE_BRANCH =~ hotfix ]]",
    "[[ $CIRCLE_BRANCH =~ ^(main|release)$ ]]",
    "[[ $CIRCLE_BRANCH =~ ^ma|se$ ]]",
    "[[ $CIRCLE_BRANCH =~ x* ]]",
    "[[ $CIRCLE_BRANCH =~ ^$ ]]",
    "[[ $CIRCLE_BRANCH =~ a.b ]]",
    "[[ $CIRCLE_BRANCH =~ [.] ]]",
    '[[ $CIRCLE_BRANCH =~ "a.b" ]]',
    "[[ $CIRCLE_BRANCH =~ ^[^/]+$ ]]",
    "[[ $CIRCLE_BRANCH =~ [0-9]{2} ]]",
    '[ -n "$CIRCLE_TAG" ]',
    '[ -z "$CIRCLE_TAG" ]',
    '[ "$CIRCLE_TAG" ]',
    "[ $CIRCLE_BRANCH = main ]",
    "[ $CIRCLE_BRANCH != main ]",
    "[ -n $CIRCLE_TAG ]",
    "[ -z $CIRCLE_TAG ]",
    "[ ! $CIRCLE_TAG ]",
    '[ ! "$CIRCLE_BRANCH" = main ]',
    '[[ -z "$CIRCLE_PULL_REQUEST" && $CIRCLE_BRANCH == main ]]',
    "[[ ! ( $CIRCLE_BRANCH == main || -n $CIRCLE_TAG ) ]]",
    '[ "$CIRCLE_BRANCH" = main ] || [ -n "$CIRCLE_TAG" ] && [ -z "$CIRCLE_PULL_REQUEST" ]',
    '! [ "$CIRCLE_BRANCH" = main ]',
    "[[ true ]]",
    "[[ $CIRCLE_BRANCH == '' ]]",
    '[ "$CIRCLE_BRANCH" = "" ]',
    '[ "$CIRCLE_BRANCH" "=" "main" ]',
    '[ "$CIRCLE_BRANCH" \\= main ]',
    '[ "-n" "$CIRCLE_TAG" ]',
    "[ '-z' \"$CIRCLE_TAG\" ]",
    '[ "!" "$CIRCLE_TAG" ]',
    '[ "$CIRCLE_BRANCH" "!=" main ]',
    '[[ "$CIRCLE_BRANCH" == main ]]',
]
BRANCHES = [
    None, "", "main", "release", "release/1.2", "maintenance/1.10", "maintenance/1.x",
    "hotfix", "x-hotfix-y", "a.b", "axb", "se", "mase", "*x", "m", "5", "v12", "r1/2",
    "]m", "line\nbreak",
]  # fmt: skip
TAGS = [None, "", "v1.2.3"]
PULL_REQUESTS = [None, "https://github.com/acme/shop/pull/7"]


def _cases() -> list[dict[str, str | None]]:
    return [
        {"CIRCLE_BRANCH": b, "CIRCLE_TAG": t, "CIRCLE_PULL_REQUEST": p}
        for b, t, p in itertools.product(BRANCHES, TAGS, PULL_REQUESTS)
    ]


def bash_answers(test: str, cases: list[dict[str, str | None]]) -> list[bool]:
    """What bash itself says for each case, in one bash process."""
    lines = [f"check() {{ if {test}; then echo 1; else echo 0; fi; }}"]
    for case in cases:
        sets = [
            f"unset {name}" if value is None else f"{name}={shlex.quote(value)}"
            for name, value in case.items()
        ]
        lines.append("; ".join([*sets, "check 2>/dev/null"]))
    done = subprocess.run(
        ["bash", "-c", "\n".join(lines)], capture_output=True, text=True, check=True, cwd="/"
    )
    return [line == "1" for line in done.stdout.split()]


@pytest.mark.parametrize("test", TESTS)
def test_the_gate_answers_as_bash(test: str) -> None:
    cases = _cases()
    expected = bash_answers(test, cases)
    condition = parse(translated(test))
    for case, wanted in zip(cases, expected):
        if "[ $" in test and any(c.isspace() for c in case["CIRCLE_BRANCH"] or ""):
            continue  # unquoted, it splits; git refuses such a branch name anyway
        env = {name: value for name, value in case.items() if value is not None}
        assert evaluate(condition, build_context(env)) is wanted, (test, case)


# --- never a traceback ------------------------------------------------------------------

SHELL_WORDS = st.sampled_from(
    ["if", "then", "else", "elif", "fi", "[[", "]]", "[", "]", "!", "&&", "||", ";", "\n",
     "-n", "-z", "==", "=", "!=", "=~", "(", ")", "$CIRCLE_BRANCH", '"$CIRCLE_TAG"', "main",
     "rel*", "'a b'", "curl", "-u", "${T}:", "-d", "build_parameters[CIRCLE_JOB]=x",
     "https://circleci.com/api/v1.1/project/github/o/r/tree/$CIRCLE_BRANCH", "exit", "echo",
     "\\", "`", "$(", "{", "}", "#", "[[:digit:]]", "@(", "|", ">", "2>&1", "${X:-y}"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(SHELL_WORDS, max_size=30))
def test_any_shell_words_translate_or_are_refused(words: list[str]) -> None:
    try:
        for trigger in find_triggers(parse_script(" ".join(words))):
            parse(render(trigger.guard))
    except Refused:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_translates_or_is_refused(text: str) -> None:
    with contextlib.suppress(Refused):
        find_triggers(parse_script(text))


@pytest.mark.parametrize(
    "line", ["set -u", "set -o nounset", "set -euo pipefail", "set -f", "set -n", "set -- a"]
)
def test_a_set_that_changes_the_script_is_refused(line: str) -> None:
    """`set -u` ends the script on an unset variable: `[ -n "$CIRCLE_TAG" ]` on a branch
    build would stop it before the curl, which the gate cannot say."""
    with pytest.raises(Refused) as caught:
        find_triggers(parse_script(f'{line}\nif [ -n "$CIRCLE_TAG" ]; then\n  {CURL}\nfi'))
    assert caught.value.reason.startswith(f"`{line}` changes how the rest of the script runs")


@pytest.mark.parametrize("line", ["set -e", "set -x", "set -eo pipefail", "set -o xtrace", "set"])
def test_a_set_that_only_stops_or_prints_is_read(line: str) -> None:
    (trigger,) = find_triggers(parse_script(f'{line}\nif [ -n "$CIRCLE_TAG" ]; then {CURL}; fi'))
    assert render(trigger.guard) == 'tag matches "*"'


@pytest.mark.parametrize("script", ["[[ ; )", "[[ $CIRCLE_BRANCH == main ; ]]"])
def test_a_word_that_reads_nothing_is_refused_never_a_loop(script: str) -> None:
    """hypothesis found `[[ ; )` (seed 6): the lexer read an empty word at `;` forever."""
    with pytest.raises(Refused) as caught:
        find_triggers(parse_script(script))
    assert caught.value.reason == "cannot read `;` here"
