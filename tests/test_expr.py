from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_deploy_gate.conditions import evaluate
from ci_deploy_gate.context import build_context
from ci_deploy_gate.explain import explained
from ci_deploy_gate.expr import ExprError, parse

CONTEXT = build_context(
    {
        "CIRCLE_BRANCH": "release/2.1",
        "CIRCLE_SHA1": "abc123",
        "CIRCLE_USERNAME": "alice",
        "CIRCLE_PR_NUMBER": "",
        "CIRCLE_PROJECT_USERNAME": "acme",
        "CIRCLE_PROJECT_REPONAME": "shop",
        "DEPLOY": "yes",
    }
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("branch is release/2.1", True),
        ("branch is release", False),
        ("branch is not release", True),
        ("branch is not release/2.1", False),
        ("branch is 'release/2.1'", True),
        ('branch is "release/2.1"', True),
        ("branch matches release/*", True),
        ("branch matches 'rel*'", True),
        ("branch matches main", False),
        ("branch matches /release\\/[0-9.]+/", True),
        ("branch matches /release/", False),  # a regex must match the whole value
        ("branch matches '/rel.*/'", True),  # a quoted /regex/ is still a regex
        ("branch in [main, release/2.1]", True),
        ("branch in [main, 'release/*']", False),  # `in` lists exact values
        ("tag matches v*", False),  # unset matches nothing
        ("tag is not v1", True),  # ... and equals nothing
        ("pull_request", False),
        ("not pull_request", True),
        ("pull_request is false", True),
        ("fork is true", False),
        ("user is alice and project is acme/shop", True),
        ("env.DEPLOY is yes", True),
        ("env.MISSING is yes", False),
        ("branch is main or user is alice", True),
        ("branch is main or user is bob and sha is abc123", False),
        ("(branch is main or user is alice) and sha is abc123", True),
        ("not branch is main and not (user is bob or fork)", True),
        ("not not pull_request", False),
        ("branch is main or branch is release/2.1 and not pull_request", True),
    ],
)
def test_expression_verdict(source: str, expected: bool) -> None:
    assert evaluate(parse(source), CONTEXT) is expected


def test_not_binds_tighter_than_and_tighter_than_or() -> None:
    # read as: (not user is alice) or (branch is release/2.1 and pull_request)
    assert (
        evaluate(parse("not user is alice or branch is release/2.1 and pull_request"), CONTEXT)
        is False
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("branch is", "expected a value after 'is' at column 10"),
        ("branch is not", "expected a value after 'is not' at column 14"),
        ("brnch is main", "unknown fact 'brnch' at column 1 (did you mean 'branch'?)"),
        ("branch is main xx", "unexpected 'xx' at column 16 (expected 'and' or 'or')"),
        ("branch is main and", "expected a condition after 'and', found the end at column 19"),
        (
            "(branch is main",
            "expected ')' to close the '(' at column 1, found the end at column 16",
        ),
        ("branch is 'main", "unterminated string at column 11 (close it with ')"),
        (
            "branch matches /ma(in/",
            "invalid regex /ma(in/: missing ), unterminated subpattern at position 2 at column 16",
        ),
        ("branch matches /main", "unterminated /regex/ at column 16 (close it with '/')"),
        ("branch is /main/", "a /regex/ needs 'matches', not 'is' at column 11"),
        ("branch in main", "expected '[' after 'in' at column 11 (branch in [a, b])"),
        ("branch in [main release]", "expected ',' or ']', found 'release' at column 17"),
        ("pull_request is yes", "'pull_request' is true or false, not 'yes' at column 17"),
        ("fork matches x", "'fork' is a yes/no fact at column 6 (use 'fork' or 'not fork')"),
        (
            "branch",
            "'branch' is not a yes/no fact at column 1 (compare it: 'branch is VALUE', "
            "'branch matches PATTERN' or 'branch in [...]')",
        ),
        ("", "empty condition at column 1 (write e.g. 'branch is main')"),
        ("and", "expected a condition, found 'and' at column 1"),
        (
            "changed /docs/**",
            "path patterns are gitignore-style globs, not /regex/ at column 9 "
            "(quote a pattern that starts with '/': \"/docs/**\")",
        ),
        (
            "changed",
            'expected a path pattern, found the end at column 8 (e.g. changed "services/api/**")',
        ),
        (
            "changed only",
            'expected a path pattern, found the end at column 13 (e.g. changed "services/api/**")',
        ),
        (
            'changed ["a/**" "b"]',
            "expected ',' or ']' to close the '[' at column 9, found 'b' at column 17",
        ),
        (
            'changed "!docs/**"',
            "'!docs/**' can match no path: give at least one pattern that is not '!' "
            "(an exclusion), blank or a '#' comment at column 1",
        ),
        (
            "message matches release*",
            "'message' is searched with a /regex/ at column 17 "
            "('message matches /^release:/', or 'message contains TEXT')",
        ),
        (
            "messages is x",
            "'messages' holds every commit message of the change at column 10 "
            "(use 'messages contain TEXT' or 'messages match /regex/')",
        ),
        ("message contains", "expected a value after 'contains' at column 17"),
        ("fork contains x", "'fork' is a yes/no fact at column 6 (use 'fork' or 'not fork')"),
    ],
)
def test_syntax_error_names_the_column(source: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        parse(source)
    assert str(caught.value) == message


def test_git_conditions_without_git_facts_are_false() -> None:
    """A context git was not read for (no such rule): nothing changed, no message."""
    for source in ('changed "**"', "message contains x", "messages contain x", "author is a"):
        assert evaluate(parse(source), CONTEXT) is False
    assert evaluate(parse('not changed only "docs/**"'), CONTEXT) is True


def test_contains_works_on_any_text_fact() -> None:
    assert evaluate(parse("branch contains '2.'"), CONTEXT) is True
    assert evaluate(parse("branch contains hotfix"), CONTEXT) is False


def test_explanation_quotes_each_condition_with_its_value() -> None:
    expr = parse("branch is main or (not pull_request and user is alice)")
    found = [(a.condition, a.result, a.actual) for a in explained(expr, CONTEXT)[1]]
    assert found == [
        ("branch is main", False, "release/2.1"),
        ("not pull_request", True, False),
        ("user is alice", True, "alice"),
    ]


@given(st.text(max_size=60))
def test_any_text_parses_or_fails_cleanly(source: str) -> None:
    try:
        expr = parse(source)
    except ExprError as exc:
        assert exc.column >= 1
        return
    assert evaluate(expr, CONTEXT) in (True, False)


@given(
    st.lists(
        st.sampled_from(
            [
                "branch",
                "is",
                "not",
                "and",
                "or",
                "(",
                ")",
                "in",
                "[",
                "]",
                ",",
                "matches",
                "main",
                "'x y'",
                "/a+/",
                "pull_request",
                "fork",
                "env.X",
                "true",
                "*",
                "changed",
                "only",
                "message",
                "messages",
                "contains",
                "contain",
                "'src/**'",
            ]
        ),
        max_size=12,
    )
)
def test_any_token_soup_parses_or_fails_cleanly(words: list[str]) -> None:
    source = " ".join(words)
    try:
        expr = parse(source)
    except ExprError as exc:
        assert 1 <= exc.column <= len(source) + 1
        return
    assert evaluate(expr, CONTEXT) in (True, False)


def test_a_regex_ending_in_an_escaped_backslash_is_closed_by_its_slash() -> None:
    assert evaluate(parse(r"branch matches /release\/2\.1|a\\/"), CONTEXT) is True
    assert evaluate(parse(r"env.DEPLOY matches /ye\\/ or branch is release/2.1"), CONTEXT)


@pytest.mark.parametrize(
    "source", ["(" * 101 + "fork" + ")" * 101, "not " * 101 + "fork", "not " * 3000 + "fork"]
)
def test_nesting_past_the_limit_is_one_error_not_a_recursion(source: str) -> None:
    with pytest.raises(ExprError) as caught:
        parse(source)
    assert str(caught.value).startswith("nested deeper than 100 levels of 'not' and '('")


def test_nesting_up_to_the_limit_parses() -> None:
    assert evaluate(parse("(" * 100 + "branch is release/2.1" + ")" * 100), CONTEXT) is True
    assert evaluate(parse("not " * 100 + "branch is release/2.1"), CONTEXT) is True


@pytest.mark.parametrize(
    ("source", "expected", "shown"),
    [
        ("true", True, [("true", True, True)]),
        ("false", False, [("false", False, False)]),
        ("not true", False, [("not true", False, True)]),
        (
            "false or branch is release/2.1",
            True,
            [("false", False, False), ("branch is release/2.1", True, "release/2.1")],
        ),
    ],
)
def test_true_and_false_are_conditions(
    source: str, expected: bool, shown: list[tuple[str, bool, object]]
) -> None:
    condition = parse(source)
    assert evaluate(condition, CONTEXT) is expected
    assert [(a.condition, a.result, a.actual) for a in explained(condition, CONTEXT)[1]] == shown


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (  # an `and` stops at the first false condition
            "branch is main and user is alice",
            [("branch is main", False, "release/2.1"), ("user is alice", None, None)],
        ),
        (  # an `or` at the first true one
            "user is alice or branch is main or fork",
            [
                ("user is alice", True, "alice"),
                ("branch is main", None, None),
                ("fork", None, None),
            ],
        ),
        (  # a group not reached lists every condition in it
            "fork and (branch is main or not pull_request)",
            [
                ("fork", False, False),
                ("branch is main", None, None),
                ("not pull_request", None, None),
            ],
        ),
        (  # `not` of a group: the group decides as usual inside
            "not (user is alice or fork)",
            [("user is alice", True, "alice"), ("fork", None, None)],
        ),
        ("false and true", [("false", False, False), ("true", None, None)]),
        ("not true or not false", [("not true", False, True), ("not false", True, False)]),
    ],
)
def test_the_explanation_shows_what_the_verdict_did_not_need(
    source: str, shown: list[tuple[str, bool | None, object]]
) -> None:
    _, atoms = explained(parse(source), CONTEXT)
    assert [(a.condition, a.result, a.actual) for a in atoms] == shown
    assert [a.needed for a in atoms] == [result is not None for _, result, _ in shown]


@given(
    st.recursive(
        st.sampled_from(["fork", "pull_request", "user is alice", "branch is main", "true"]),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map(
                lambda t: f"({t[0]}{t[1]}{t[2]})"
            ),
            inner.map(lambda e: f"not {e}"),
        ),
        max_leaves=8,
    )
)
def test_the_explained_verdict_is_the_evaluated_one(source: str) -> None:
    expr = parse(source)
    assert explained(expr, CONTEXT)[0] is evaluate(expr, CONTEXT)


ENDS = "a /regex/ ends at its first '/' not escaped with '\\'"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "branch matches /release/.*/",
            f"unexpected '.*/' at column 25 ({ENDS}: write /release\\/.*/, "
            'quote it: "/release/.*/", or use the glob release/*)',
        ),
        (
            "branch matches /release/(a|b)/ and not fork",
            f"unterminated /regex/ at column 30 ({ENDS}: write /release\\/(a|b)/, "
            'or quote it: "/release/(a|b)/")',
        ),
        (
            "branch matches /release/ .*/",
            f"unexpected '.*/' at column 26 ({ENDS}: write /release\\/ .*/, "
            'or quote it: "/release/ .*/")',
        ),
        (
            "(branch matches /a/b/c/)",
            "expected ')' to close the '(' at column 1, found 'b/c/' at column 20 "
            f'({ENDS}: write /a\\/b\\/c/, or quote it: "/a/b/c/")',
        ),
        (  # a commit message takes only the unquoted /regex/
            "message matches /^fix/urgent/",
            f"unexpected 'urgent/' at column 23 ({ENDS}: write /^fix\\/urgent/)",
        ),
        (  # a backslash in quotes escapes: the quoted form is not offered
            "branch matches /v\\d+/.*/",
            f"unexpected '.*/' at column 22 ({ENDS}: write /v\\d+\\/.*/)",
        ),
        (
            "branch matches /release/x and not fork",
            f"unexpected 'x' at column 25 ({ENDS}: write '\\/' for a '/' inside one)",
        ),
        # a /regex/ that ended where it was meant to: the usual messages
        ("branch matches /a/ b", "unexpected 'b' at column 20 (expected 'and' or 'or')"),
        ("branch matches /a/)", "unexpected ')' at column 19 (expected 'and' or 'or')"),
        ("branch matches /a/ /b/", "unexpected '/b/' at column 20 (expected 'and' or 'or')"),
    ],
)
def test_a_regex_cut_at_an_inner_slash_says_how_to_write_it(source: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        parse(source)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "source",
    [
        "branch matches /release\\/.*/",
        'branch matches "/release/.*/"',  # a quoted /regex/ ends at its quote
        "branch matches '/release/.*/'",
        "branch matches release/*",
        'branch matches "/r\\\\w+/.*/"',  # in quotes a regex's backslash is doubled
    ],
)
def test_the_suggested_forms_of_a_regex_with_a_slash_match(source: str) -> None:
    assert evaluate(parse(source), CONTEXT) is True


def test_a_quoted_regex_loses_a_single_backslash() -> None:
    assert evaluate(parse('branch matches "/r\\w+/.*/"'), CONTEXT) is False  # read as /rw+/.*/
