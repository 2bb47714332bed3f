"""Value patterns shared by `matches` and the `when` map: exact, glob, or /regex/; and the
gitignore-style path patterns of `changed`."""

from __future__ import annotations

import fnmatch
import re

from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

GLOB_CHARS = frozenset("*?[")


class PatternError(ValueError):
    """A /regex/ that does not compile; the text says why."""


class Pattern(NamedTuple):
    """`/.../` is a regex that must match the whole value, as in CircleCI's branch
    filters; a glob (fnmatch, case-sensitive) when it has * ? or [; else exact."""

    source: str
    kind: str  # "exact" | "glob" | "regex"

    def matches(self, value: str) -> bool:
        if self.kind == "exact":
            return value == self.source
        if self.kind == "glob":
            return fnmatch.fnmatchcase(value, self.source)
        return re.fullmatch(self.source[1:-1], value) is not None

    def __str__(self) -> str:
        return self.source


def is_regex_literal(text: str) -> bool:
    return len(text) >= 2 and text.startswith("/") and text.endswith("/")


def exact(text: str) -> Pattern:
    return Pattern(text, "exact")


def pattern(text: str) -> Pattern:
    """Classify `text` by its form; raises PatternError for a broken regex."""
    if is_regex_literal(text):
        try:
            re.compile(text[1:-1])
        except re.error as exc:
            raise PatternError(f"invalid regex {text}: {exc}") from None
        return Pattern(text, "regex")
    if GLOB_CHARS.intersection(text):
        return Pattern(text, "glob")
    return exact(text)


class PathMatcher(NamedTuple):
    """Gitignore-style path patterns, in order, the last one that matches deciding (a
    `!pattern` excludes): `*` stays inside one folder, `**` crosses folders, a pattern
    without a `/` matches at any depth, a matched folder takes its contents. The patterns
    are pathspec's ("gitignore"); `lines` runs them over many paths at once."""

    patterns: tuple[str, ...]
    match: Callable[[str], bool]  # one path, by pathspec itself
    # In a block of newline-ended paths: every path that matches, and every one that does
    # not. One regex scan of the block, not a Python call per path: a change can hold
    # 100,000 of them.
    lines: re.Pattern[str]
    outside: re.Pattern[str]


def _in_one_line(regex: str) -> str:
    """A pathspec regex, tried at the start of a line of a block, that cannot reach past
    the line's end: `.` already stops at a newline, a negated class `[^...]` must too.
    pathspec searches, and a few of its regexes are unanchored (`*/` is `/`): those may
    begin anywhere in the line."""
    inside = regex.replace("[^", "[^\n")
    return inside if inside.startswith("^") else "[^\n]*?" + inside


def path_matcher(patterns: Sequence[str]) -> PathMatcher:
    """Raises PatternError for a pattern git would not read, or a list that can match
    nothing (only `!` exclusions, blanks or `#` comments)."""
    import pathspec

    try:
        spec = pathspec.PathSpec.from_lines("gitignore", patterns)
    except ValueError as exc:
        raise PatternError(f"invalid path pattern: {exc}") from None
    rules = [
        (bool(p.include), _in_one_line(p.regex.pattern))
        for p in spec.patterns
        if p.include is not None and p.regex is not None
    ]
    # Last match wins: a path is in when some include matches it and no later exclusion.
    terms = [
        f"(?={regex})" + "".join(f"(?!{later})" for kept, later in rules[i + 1 :] if not kept)
        for i, (include, regex) in enumerate(rules)
        if include
    ]
    if not terms:
        shown = ", ".join(repr(p) for p in patterns)
        raise PatternError(
            f"{shown} can match no path: give at least one pattern that is not "
            "'!' (an exclusion), blank or a '#' comment"
        )
    included = "|".join(terms)
    return PathMatcher(
        tuple(patterns),
        spec.match_file,
        re.compile(f"^(?:{included})[^\n]+", re.MULTILINE),
        re.compile(f"^(?!{included})[^\n]+", re.MULTILINE),
    )
