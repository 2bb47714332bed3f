"""Value patterns shared by `matches` and the `when` map: exact, glob, or /regex/; and the
gitignore-style path patterns of `changed`."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

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
    """Gitignore-style path patterns, in order, a later `!pattern` excluding again: `*`
    stays inside one folder, `**` crosses folders, a pattern without a `/` matches at any
    depth. The semantics are pathspec's GitIgnoreSpec, the way git itself reads them."""

    patterns: tuple[str, ...]
    match: Callable[[str], bool]


def path_matcher(patterns: Sequence[str]) -> PathMatcher:
    """Raises PatternError for a pattern git would not read, or a list that can match
    nothing (only `!` exclusions, blanks or `#` comments)."""
    import pathspec

    try:
        spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    except ValueError as exc:
        raise PatternError(f"invalid path pattern: {exc}") from None
    if not any(getattr(p, "include", None) for p in spec.patterns):
        shown = ", ".join(repr(p) for p in patterns)
        raise PatternError(
            f"{shown} can match no path: give at least one pattern that is not "
            "'!' (an exclusion), blank or a '#' comment"
        )
    return PathMatcher(tuple(patterns), spec.match_file)
