"""The `if` language: `branch is release and not pull_request`.

Parsed once into condition nodes that keep their source text and column, so an
error can point at the column and an explanation can quote the condition.
Adding a condition kind is adding one Leaf class and one branch in `_Parser.condition`.
Precedence: not > and > or; parentheses group.
"""

from __future__ import annotations

import re

from ci_deploy_gate.conditions import (
    All,
    AnyOf,
    ConditionError,
    Constant,
    Contains,
    Flag,
    Frozen,
    Is,
    Matches,
    Not,
    Within,
    changed,
    fact_named,
    search,
    value_pattern,
)
from ci_deploy_gate.patterns import exact
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ci_deploy_gate.conditions import Changed, Expr
    from ci_deploy_gate.patterns import Pattern

KEYWORDS = frozenset({"and", "or", "not", "is", "matches", "in"})
_PUNCTUATION = frozenset("()[],")
_WORD_ENDS = _PUNCTUATION | frozenset("\"'")
_BOOLEANS = {"true": True, "false": False}
MAX_DEPTH = 100  # nesting of 'not' and '(': far past any real condition, short of recursion


class ExprError(ValueError):
    """A syntax or meaning error at a 1-based column of the expression."""

    def __init__(self, message: str, column: int, hint: str | None = None) -> None:
        self.message, self.column, self.hint = message, column, hint
        text = f"{message} at column {column}"
        super().__init__(f"{text} ({hint})" if hint else text)


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
            while end != -1 and _escaped(source, end):
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


def _escaped(source: str, at: int) -> bool:
    r"""Whether the character at `at` follows an odd run of backslashes: in `/a\\/` the
    backslash is escaped and the slash ends the regex; in `/a\/b/` the first slash is kept."""
    count = 0
    while at - count > 0 and source[at - count - 1] == "\\":
        count += 1
    return count % 2 == 1


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
        self.depth = 0  # of 'not' and '(' around the token being read

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
        """unary := 'not' unary | '(' either ')' | condition"""
        start = self.token
        if start.is_keyword("not") or start.kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExprError(
                    f"nested deeper than {MAX_DEPTH} levels of 'not' and '('",
                    start.column,
                    "write it flatter, or as several rules",
                )
        if start.is_keyword("not"):
            self.advance()
            operand = self.unary()
            self.depth -= 1
            return Not(self.text_from(start.start), start.column, operand)
        if start.kind == "(":
            self.advance()
            inner = self.either()
            self.depth -= 1
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
        if name in _BOOLEANS:
            return Constant(name, token.column, _BOOLEANS[name])
        try:
            kind = fact_named(name).kind
        except ConditionError as exc:
            raise ExprError(exc.message, token.column, exc.hint) from None
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
            self.advance()
            try:
                return search(self.text_from(token.start), token.column, name, regex.text)
            except ConditionError as exc:
                raise ExprError(str(exc), regex.column) from None
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
            return changed(self.text_from(start.start), start.column, found, only)
        except ConditionError as exc:
            raise ExprError(str(exc), start.column) from None

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
            return value_pattern(token.text)
        except ConditionError as exc:
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
    try:
        return _Parser(source).parse()
    except ExprError as exc:
        hint = _regex_hint(source, exc.column - 1)
        if hint is None:
            raise
        raise ExprError(exc.message, exc.column, hint) from None


_ENDS_A_REGEX = frozenset(")],")  # what may follow a /regex/ that ended where it was meant to
_A_PREFIX_GLOB = re.compile(r"[A-Za-z0-9_/-]+")


def _regex_hint(source: str, at: int) -> str | None:
    """When the error at offset `at` is the rest of a /regex/ that its first '/' ended
    (`/release/.*/` read as `/release/` then `.*/`), the hint that says so and how to
    write it; None when the error has nothing to do with a regex."""
    try:
        before = _tokens(source[:at])[:-1]  # an error's column starts a token: this reads
    except ExprError:  # pragma: no cover - a safeguard: keep the error as it was
        return None
    try:
        rest = _tokens(source[at:])[0]
    except ExprError:  # an unterminated string or /regex/ at `at`
        rest = _Token("end", "", 0, 0)
    regexes = [i for i, token in enumerate(before) if token.kind == "regex"]
    if not regexes:
        return None
    regex = before[regexes[-1]]
    between = source[regex.end : at]
    follows = source[regex.end : regex.end + 1]
    meant: str | None = None
    if follows and not follows.isspace() and follows not in _ENDS_A_REGEX:
        if any(char.isspace() for char in between):
            return None
        meant = _meant_regex(source, regex)  # `/release/.*/`, `/release/(a|b)/`
        if meant is not None and regex.start + len(meant) <= at:
            return None  # the error is past the regex the text meant
    elif between.isspace() and regex is before[-1]:
        if rest.kind != "word" or not rest.text.endswith("/"):
            return None
        meant = source[regex.start : at + rest.end]  # `/release/ .*/`
    else:
        return None
    ends = "a /regex/ ends at its first '/' not escaped with '\\'"
    if meant is None:
        return f"{ends}: write '\\/' for a '/' inside one"
    ways = [meant[0] + _escape_slashes(meant[1:-1]) + meant[-1]]
    searched = regexes[-1] >= 2 and before[regexes[-1] - 2].text in ("message", "messages")
    if not searched and "\\" not in meant and '"' not in meant:
        ways.append(f'quote it: "{meant}"')
        body = meant[1:-1]
        if body.endswith(".*") and _A_PREFIX_GLOB.fullmatch(body[:-2]):
            ways.append(f"use the glob {body[:-2]}*")
    said = ways[0] if len(ways) == 1 else ", ".join(ways[:-1]) + f", or {ways[-1]}"
    return f"{ends}: write {said}"


def _meant_regex(source: str, regex: _Token) -> str | None:
    """The /regex/ that starts where `regex` does and ends at a '/' followed by a space,
    the end, or `)`, `]` or `,`, without a space before it; None when there is none."""
    at = regex.end
    while at < len(source) and not source[at].isspace():
        if source[at] == "/" and not _escaped(source, at):
            after = source[at + 1 : at + 2]
            if not after or after.isspace() or after in _ENDS_A_REGEX:
                return source[regex.start : at + 1]
        at += 1
    return None


def _escape_slashes(body: str) -> str:
    return "".join(
        "\\/" if char == "/" and not _escaped(body, i) else char for i, char in enumerate(body)
    )
