"""Value patterns shared by `matches` and the `when` map: exact, glob, or /regex/."""

from __future__ import annotations

import fnmatch
import re
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
