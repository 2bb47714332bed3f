"""The `if` language: `branch is release and not pull_request`.

Parsed once into condition nodes that keep their source text and column, so an
error can point at the column and an explanation can quote the condition.
Adding a condition kind is adding one Leaf class and one branch in `_Parser.condition`.
Precedence: not > and > or; parentheses group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import NamedTuple, Protocol, Union

from ci_deploy_gate.context import (
    FACTS,
    Calendar,
    ChangeRange,
    FactValue,
    PathQuery,
    TimeState,
    fact_kind,
)
from ci_deploy_gate.errors import suggest
from ci_deploy_gate.patterns import Pattern, PatternError, exact, path_matcher, pattern

KEYWORDS = frozenset({"and", "or", "not", "is", "matches", "in"})
_PUNCTUATION = frozenset("()[],")
_WORD_ENDS = _PUNCTUATION | frozenset("\"'")
_BOOLEANS = {"true": True, "false": False}


class Facts(Protocol):
    def get(self, name: str) -> FactValue: ...


class ExprError(ValueError):
    """A syntax or meaning error at a 1-based column of the expression."""

    def __init__(self, message: str, column: int, hint: str | None = None) -> None:
        self.message, self.column, self.hint = message, column, hint
        text = f"{message} at column {column}"
        super().__init__(f"{text} ({hint})" if hint else text)


# What an explanation shows of a fact: its value, or for a list fact the part that decided
Shown = Union[str, bool, None, dict[str, object]]
EXAMPLES = 10  # paths or commits an explanation names at most


class Atom(NamedTuple):
    """One condition as shown in an explanation: its text, verdict and the fact's value."""

    condition: str
    result: bool
    actual: Shown
    field: str


# Leaves test one fact each. `column` is 0 for conditions written as a `when` map.
# A new condition kind is one more NamedTuple with `field` and `test`, added to `Leaf`.


class Flag(NamedTuple):
    """A bare yes/no fact: `pull_request`."""

    text: str
    column: int
    field: str

    def test(self, actual: FactValue) -> bool:
        return actual is True


class Is(NamedTuple):
    """`FIELD is VALUE` / `FIELD is not VALUE`; an unset fact is no value at all."""

    text: str
    column: int
    field: str
    value: str | bool
    negated: bool = False

    def test(self, actual: FactValue) -> bool:
        equal = actual is not None and actual == self.value
        return not equal if self.negated else equal


class Matches(NamedTuple):
    """`FIELD matches PATTERN` and `FIELD in [...]`: true when any pattern matches."""

    text: str
    column: int
    field: str
    patterns: tuple[Pattern, ...]

    def test(self, actual: FactValue) -> bool:
        return isinstance(actual, str) and any(p.matches(actual) for p in self.patterns)


class Contains(NamedTuple):
    """`message contains TEXT`; `messages contain TEXT`: any commit of the range."""

    text: str
    column: int
    field: str
    needle: str

    def test(self, actual: FactValue) -> bool:
        return any(self.needle in item for item in _items(actual))

    def hit(self, item: str) -> bool:
        return self.needle in item


class Search(NamedTuple):
    """`message matches /re/`: a commit message is prose, so the regex is searched for
    (re.MULTILINE: ^ and $ take each line) rather than matched against the whole."""

    text: str
    column: int
    field: str
    regex: str

    def test(self, actual: FactValue) -> bool:
        return any(self.hit(item) for item in _items(actual))

    def hit(self, item: str) -> bool:
        return re.search(self.regex, item, re.MULTILINE) is not None


class Changed(NamedTuple):
    """`changed PATTERNS` / `changed only PATTERNS`, answered by `gitfacts` while it
    reads the diff; an unread range is no change at all, and tests false."""

    text: str
    column: int
    field: str
    query: PathQuery

    def test(self, actual: FactValue) -> bool:
        return isinstance(actual, ChangeRange) and actual.answers[self.query].result


class Within(NamedTuple):
    """`within NAME`: the window NAME of `windows:` is open at the run's instant."""

    text: str
    column: int
    field: str
    name: str

    def test(self, actual: FactValue) -> bool:
        return isinstance(actual, Calendar) and actual.windows[self.name].active


class Frozen(NamedTuple):
    """`frozen`: some freeze is in force (and its `unless` does not hold); `frozen NAME`:
    that one. Without a calendar, nothing is frozen."""

    text: str
    column: int
    field: str
    name: str | None

    def test(self, actual: FactValue) -> bool:
        if not isinstance(actual, Calendar):
            return False
        if self.name is not None:
            return actual.freezes[self.name].active
        return any(state.active for state in actual.freezes.values())


def _items(actual: FactValue) -> tuple[str, ...]:
    """A text fact as one item, `messages` as its items; anything else as none."""
    if isinstance(actual, str):
        return (actual,)
    if type(actual) is tuple:  # `messages`; not the NamedTuple facts
        return tuple(item for item in actual if isinstance(item, str))
    return ()


class Not(NamedTuple):
    text: str
    column: int
    operand: Expr


class All(NamedTuple):
    text: str
    column: int
    items: tuple[Expr, ...]


class AnyOf(NamedTuple):
    text: str
    column: int
    items: tuple[Expr, ...]


Leaf = Union[Flag, Is, Matches, Contains, Search, Changed, Within, Frozen]
Expr = Union[Flag, Is, Matches, Contains, Search, Changed, Within, Frozen, Not, All, AnyOf]
LEAVES = (Flag, Is, Matches, Contains, Search, Changed, Within, Frozen)


def leaves(expr: Expr) -> Iterator[Leaf]:
    if isinstance(expr, (All, AnyOf)):
        for item in expr.items:
            yield from leaves(item)
    elif isinstance(expr, Not):
        yield from leaves(expr.operand)
    else:
        yield expr


def evaluate(expr: Expr, facts: Facts) -> bool:
    if isinstance(expr, Not):
        return not evaluate(expr.operand, facts)
    if isinstance(expr, All):
        return all(evaluate(item, facts) for item in expr.items)
    if isinstance(expr, AnyOf):
        return any(evaluate(item, facts) for item in expr.items)
    return expr.test(facts.get(expr.field))


def atoms(expr: Expr, facts: Facts) -> Iterator[Atom]:
    """The conditions an explanation lists, each with its verdict and the fact's value."""
    if isinstance(expr, (All, AnyOf)):
        for item in expr.items:
            yield from atoms(item, facts)
    elif isinstance(expr, Not):
        # `not pull_request` reads best as one condition; `not (a or b)` shows a and b.
        if isinstance(expr.operand, LEAVES):
            field = expr.operand.field
            shown = shown_actual(expr.operand, facts.get(field))
            yield Atom(expr.text, evaluate(expr, facts), shown, field)
        else:
            yield from atoms(expr.operand, facts)
    else:
        actual = facts.get(expr.field)
        yield Atom(expr.text, expr.test(actual), shown_actual(expr, actual), expr.field)


def _time_shown(state: TimeState) -> Shown:
    return {"active": state.active, "text": state.text}


def shown_actual(leaf: Leaf, actual: FactValue) -> Shown:
    """A list fact is shown by what decided the verdict, not in full: a change can hold
    100,000 paths."""
    if isinstance(leaf, Changed):
        if not isinstance(actual, ChangeRange):
            return None
        answer = actual.answers[leaf.query]
        key = "outside" if leaf.query.only else "matching"
        return {
            "base": actual.base,
            "how": actual.how,
            "paths": actual.total,
            key: list(answer.examples),
        }
    if isinstance(actual, Calendar):
        if isinstance(leaf, Within):
            return _time_shown(actual.windows[leaf.name])
        if isinstance(leaf, Frozen) and leaf.name is not None:
            return _time_shown(actual.freezes[leaf.name])
        active = [state for state in actual.freezes.values() if state.active]
        texts = [state.text for state in active or actual.freezes.values()]
        return {"active": bool(active), "text": "; ".join(texts) or "no freeze"}
    if isinstance(actual, ChangeRange):
        return None
    if isinstance(actual, tuple):  # messages: the subject lines of the commits that hit
        items = _items(actual)
        hits = [
            item.strip().splitlines()[0] if item.strip() else ""
            for item in items
            if isinstance(leaf, (Contains, Search)) and leaf.hit(item)
        ]
        return {"commits": len(items), "matching": hits[:EXAMPLES]}
    return actual


class _Token(NamedTuple):
    kind: str  # word | string | regex | ( ) [ ] , | end
    text: str  # the value: unquoted for strings
    start: int  # 0-based offsets into the source
    end: int

    @property
    def column(self) -> int:
        return self.start + 1

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text in words

    def describe(self) -> str:
        return "the end" if self.kind == "end" else repr(self.text)


def _tokens(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char.isspace():
            i += 1
        elif char in _PUNCTUATION:
            tokens.append(_Token(char, char, i, i + 1))
            i += 1
        elif char in "\"'":
            text, end = _scan_quoted(source, i)
            tokens.append(_Token("string", text, i, end))
            i = end
        elif char == "/":
            end = source.find("/", i + 1)
            while end != -1 and source[end - 1] == "\\":
                end = source.find("/", end + 1)
            if end == -1:
                raise ExprError("unterminated /regex/", i + 1, "close it with '/'")
            tokens.append(_Token("regex", source[i : end + 1], i, end + 1))
            i = end + 1
        else:
            start = i
            while i < n and not source[i].isspace() and source[i] not in _WORD_ENDS:
                i += 1
            tokens.append(_Token("word", source[start:i], start, i))
    tokens.append(_Token("end", "", n, n))
    return tokens


def _scan_quoted(source: str, start: int) -> tuple[str, int]:
    quote, out, i = source[start], [], start + 1
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source):
            out.append(source[i + 1])
            i += 2
        elif char == quote:
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise ExprError("unterminated string", start + 1, f"close it with {quote}")


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.pos = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def text_from(self, start: int) -> str:
        return self.source[start : self.tokens[self.pos - 1].end]

    def parse(self) -> Expr:
        if self.token.kind == "end":
            raise ExprError("empty condition", 1, "write e.g. 'branch is main'")
        expr = self.either()
        if self.token.kind != "end":
            raise ExprError(
                f"unexpected {self.token.describe()}", self.token.column, "expected 'and' or 'or'"
            )
        return expr

    def either(self) -> Expr:
        return self.chain("or", self.both, AnyOf)

    def both(self) -> Expr:
        return self.chain("and", self.unary, All)

    def chain(
        self,
        keyword: str,
        operand: Callable[[], Expr],
        node: Callable[[str, int, tuple[Expr, ...]], Expr],
    ) -> Expr:
        """`operand (keyword operand)*`, one node for the run rather than a nested pair."""
        start = self.token.start
        items = [operand()]
        while self.token.is_keyword(keyword):
            self.advance()
            items.append(operand())
        return items[0] if len(items) == 1 else node(self.text_from(start), start + 1, tuple(items))

    def unary(self) -> Expr:
        start = self.token
        if start.is_keyword("not"):
            self.advance()
            operand = self.unary()
            return Not(self.text_from(start.start), start.column, operand)
        if start.kind == "(":
            self.advance()
            inner = self.either()
            if self.token.kind != ")":
                raise ExprError(
                    f"expected ')' to close the '(' at column {start.column}, "
                    f"found {self.token.describe()}",
                    self.token.column,
                )
            self.advance()
            return inner
        return self.condition()

    def condition(self) -> Expr:
        token = self.token
        previous = self.tokens[self.pos - 1].text if self.pos else None
        if token.kind != "word" or token.text in KEYWORDS:
            after = f" after {previous!r}" if previous else ""
            raise ExprError(f"expected a condition{after}, found {token.describe()}", token.column)
        name = self.advance().text
        kind = fact_kind(name)
        if kind is None:
            raise ExprError(
                f"unknown fact {name!r}",
                token.column,
                suggest(name, [*FACTS, "env.NAME"]) or f"known: {', '.join(FACTS)}, env.NAME",
            )
        if kind == "paths":
            return self.changed(token)
        if kind == "window":
            window = self.token
            if window.kind not in ("word", "string") or window.is_keyword(*KEYWORDS):
                raise ExprError(
                    "expected a window name after 'within'",
                    window.column,
                    "within NAME, a window of `windows:`",
                )
            self.advance()
            return Within(self.text_from(token.start), token.column, "within", window.text)
        if kind == "freeze":
            freeze = self.token
            named = freeze.kind in ("word", "string") and not freeze.is_keyword(*KEYWORDS)
            if named:
                self.advance()
            chosen = freeze.text if named else None
            return Frozen(self.text_from(token.start), token.column, "frozen", chosen)
        operator = self.token
        if operator.is_keyword("contains", "contain"):
            if kind == "flag":
                raise ExprError(
                    f"{name!r} is a yes/no fact", operator.column, f"use '{name}' or 'not {name}'"
                )
            self.advance()
            needle = self.value(name, "text", operator.text)
            return Contains(self.text_from(token.start), token.column, name, str(needle))
        if kind in ("prose", "messages") and operator.is_keyword("matches", "match"):
            self.advance()
            regex = self.token
            if regex.kind != "regex":
                raise ExprError(
                    f"{name!r} is searched with a /regex/",
                    regex.column,
                    f"'{name} matches /^release:/', or '{name} contains TEXT'",
                )
            self.pattern(operator.text)  # compiles it
            return Search(self.text_from(token.start), token.column, name, regex.text[1:-1])
        if kind == "messages":
            raise ExprError(
                "'messages' holds every commit message of the change",
                operator.column,
                "use 'messages contain TEXT' or 'messages match /regex/'",
            )
        if operator.is_keyword("is"):
            self.advance()
            negated = self.token.is_keyword("not")
            if negated:
                self.advance()
            value = self.value(name, kind, "is not" if negated else "is")
            return Is(self.text_from(token.start), token.column, name, value, negated)
        if operator.is_keyword("matches", "in") and kind == "flag":
            raise ExprError(
                f"{name!r} is a yes/no fact", operator.column, f"use '{name}' or 'not {name}'"
            )
        if operator.is_keyword("matches"):
            self.advance()
            found = self.pattern("matches")
            return Matches(self.text_from(token.start), token.column, name, (found,))
        if operator.is_keyword("in"):
            self.advance()
            values = self.values(name)
            return Matches(self.text_from(token.start), token.column, name, values)
        if kind != "flag":
            raise ExprError(
                f"{name!r} is not a yes/no fact",
                token.column,
                f"compare it: '{name} is VALUE', '{name} matches PATTERN' or '{name} in [...]'",
            )
        return Flag(name, token.column, name)

    def changed(self, start: _Token) -> Changed:
        """`changed PATTERN`, `changed [P, ...]`, `changed only ...` (gitignore-style)."""
        only = self.token.is_keyword("only")
        if only:
            self.advance()
        if self.token.kind == "[":
            opening = self.advance()
            found = [self.path_pattern()]
            while self.token.kind == ",":
                self.advance()
                found.append(self.path_pattern())
            if self.token.kind != "]":
                raise ExprError(
                    f"expected ',' or ']' to close the '[' at column {opening.column}, "
                    f"found {self.token.describe()}",
                    self.token.column,
                )
            self.advance()
        else:
            found = [self.path_pattern()]
        try:
            path_matcher(found)
        except PatternError as exc:
            raise ExprError(str(exc), start.column) from None
        query = PathQuery(tuple(found), only)
        return Changed(self.text_from(start.start), start.column, "changed", query)

    def path_pattern(self) -> str:
        token = self.token
        if token.kind == "regex":
            raise ExprError(
                "path patterns are gitignore-style globs, not /regex/",
                token.column,
                "quote a pattern that starts with '/': \"/docs/**\"",
            )
        if token.kind not in ("word", "string") or token.is_keyword(*KEYWORDS):
            raise ExprError(
                f"expected a path pattern, found {token.describe()}",
                token.column,
                'e.g. changed "services/api/**"',
            )
        self.advance()
        return token.text

    def value(self, name: str, kind: str, after: str) -> str | bool:
        token = self.token
        if token.kind == "regex":
            raise ExprError(f"a /regex/ needs 'matches', not {after!r}", token.column)
        if token.kind not in ("word", "string") or token.is_keyword(*KEYWORDS):
            raise ExprError(f"expected a value after {after!r}", token.column)
        self.advance()
        if kind == "flag":
            if token.text not in _BOOLEANS:
                raise ExprError(f"{name!r} is true or false, not {token.text!r}", token.column)
            return _BOOLEANS[token.text]
        return token.text

    def pattern(self, after: str) -> Pattern:
        token = self.token
        if token.kind not in ("word", "string", "regex") or token.is_keyword(*KEYWORDS):
            raise ExprError(f"expected a pattern after {after!r}", token.column)
        self.advance()
        try:
            return pattern(token.text)
        except PatternError as exc:
            raise ExprError(str(exc), token.column) from None

    def values(self, name: str) -> tuple[Pattern, ...]:
        opening = self.token
        if opening.kind != "[":
            raise ExprError("expected '[' after 'in'", opening.column, f"{name} in [a, b]")
        self.advance()
        found: list[Pattern] = []
        while True:
            found.append(exact(str(self.value(name, "text", "in" if not found else ","))))
            if self.token.kind == ",":
                self.advance()
            elif self.token.kind == "]":
                self.advance()
                return tuple(found)
            else:
                raise ExprError(
                    f"expected ',' or ']', found {self.token.describe()}", self.token.column
                )


def parse(source: str) -> Expr:
    """Parse an `if` expression; raises ExprError with the 1-based column at fault."""
    return _Parser(source).parse()
