"""The `if` language: `branch is release and not pull_request`.

Parsed once into condition nodes that keep their source text and column, so an
error can point at the column and an explanation can quote the condition.
Adding a condition kind is adding one Leaf class and one branch in `_Parser.condition`.
Precedence: not > and > or; parentheses group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple, Protocol, Union

from ci_deploy_gate.context import FACTS, FactValue, fact_kind
from ci_deploy_gate.patterns import Pattern, PatternError, exact, pattern

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


class Atom(NamedTuple):
    """One condition as shown in an explanation: its text, verdict and the fact's value."""

    condition: str
    result: bool
    actual: FactValue
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


Leaf = Union[Flag, Is, Matches]
Expr = Union[Flag, Is, Matches, Not, All, AnyOf]


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
        if isinstance(expr.operand, (Flag, Is, Matches)):
            field = expr.operand.field
            yield Atom(expr.text, evaluate(expr, facts), facts.get(field), field)
        else:
            yield from atoms(expr.operand, facts)
    else:
        actual = facts.get(expr.field)
        yield Atom(expr.text, expr.test(actual), actual, expr.field)


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


def suggest(name: str, known: Sequence[str]) -> str | None:
    import difflib  # only on the error path

    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else None


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
        operator = self.token
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
