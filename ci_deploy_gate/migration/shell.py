"""A step's bash script read into words and commands, as far as a trigger needs.

`shlex` splits words but forgets which parts were quoted, and that decides what a test
means (`[[ $b == rel* ]]` is a glob, `[[ $b == "rel*" ]]` is not) and whether `$X` is
expanded; so the tokenizer here keeps, for every part of a word, whether it was quoted and
whether it is a variable. The grammar is the part of bash's that trigger steps use:

    list     := and_or ((';' | '&' | NEWLINE) and_or)*
    and_or   := pipeline (('&&' | '||') NEWLINE* pipeline)*
    pipeline := '!'? command
    command  := 'if' list 'then' list ('elif' list 'then' list)* ('else' list)? 'fi'
              | '[[' condition-words ']]'
              | WORD+                       (redirections are read and dropped)

Loops, `case`, subshells, pipes, functions and here-documents are refused: a trigger
step that uses them is not translated.
"""

from __future__ import annotations

import re

from ci_deploy_gate.migration import Refused
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMAND_ENDS = frozenset(" \t\n;&|()<>")
_RESERVED = frozenset({"for", "while", "until", "case", "select", "function", "{", "}"})
_REDIRECT = re.compile(r"[0-9]*(?:>>|>&|<&|&>|>\||<>|>|<)")
_EXTGLOB = frozenset("@!+*?")  # before `(` in `[[ ]]`: bash's extended globs
MAX_DEPTH = 50  # nested `if`s: far past any real step, short of Python's recursion limit


class Part(NamedTuple):
    """A piece of a word: literal text, a `$NAME`/`${NAME}` (text is the name), or an
    expansion the migration does not follow (`$(...)`, `${X:-y}`, `$1`...)."""

    text: str
    quoted: bool
    kind: str = "text"  # text | var | other


class Word(NamedTuple):
    parts: tuple[Part, ...]
    line: int  # 1-based, in the script
    source: str  # as written

    @property
    def literal(self) -> str | None:
        """The word's value when it expands nothing."""
        if any(part.kind != "text" for part in self.parts):
            return None
        return "".join(part.text for part in self.parts)

    @property
    def variable(self) -> str | None:
        """The variable's name when the word is exactly one `$NAME`, quoted or not."""
        if len(self.parts) == 1 and self.parts[0].kind == "var":
            return self.parts[0].text
        return None

    @property
    def bare(self) -> bool:
        """Whether nothing of it was quoted: how reserved words and `[[` are told."""
        return all(not part.quoted for part in self.parts)

    def is_(self, text: str) -> bool:
        return self.bare and self.literal == text


class Token(NamedTuple):
    kind: str  # word | op | end
    text: str  # the operator, or the word's source
    line: int
    word: Word | None = None


class Command(NamedTuple):
    """A simple command: its words, redirections dropped."""

    words: tuple[Word, ...]
    line: int
    text: str


class Cond(NamedTuple):
    """`[[ ... ]]`: its words and operators in order (`&&`, `||`, `(`, `)` as text)."""

    items: tuple[Word | str, ...]
    line: int
    text: str


class If(NamedTuple):
    branches: tuple[tuple[Node, Node], ...]  # (condition list, body)
    otherwise: Node | None
    line: int
    text: str


class AndOr(NamedTuple):
    items: tuple[Node, ...]
    ops: tuple[str, ...]  # '&&' or '||' before items[1:]


class Negated(NamedTuple):
    node: Node
    line: int


class Sequence(NamedTuple):
    items: tuple[Node, ...]


if TYPE_CHECKING:
    Node = Union[Command, Cond, If, AndOr, Negated, Sequence]


class _Lexer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.at = 0
        self.line = 1

    def _peek(self, offset: int = 0) -> str:
        at = self.at + offset
        return self.source[at] if at < len(self.source) else ""

    def _skip_blanks(self, newlines: bool) -> None:
        while True:
            char = self._peek()
            if char in (" ", "\t") or (newlines and char == "\n"):
                self.line += char == "\n"
                self.at += 1
            elif char == "\\" and self._peek(1) == "\n":
                self.at += 2
                self.line += 1
            elif char == "#":
                while self._peek() not in ("", "\n"):
                    self.at += 1
            else:
                return

    def next(self, mode: str = "command") -> Token:
        """mode: command; cond (inside `[[ ]]`: no newlines, `<` `>` are words); regex
        (the word after `=~`, where `(`, `)` and `|` belong to the word)."""
        self._skip_blanks(newlines=mode != "command")
        char, line = self._peek(), self.line
        if not char:
            return Token("end", "", line)
        if mode == "command":
            if char == "\n":
                self.at += 1
                self.line += 1
                return Token("op", "\n", line)
            found = _REDIRECT.match(self.source, self.at)
            if found:
                self.at = found.end()
                return Token("op", ">", line)  # any redirection
            for op in ("&&", "||", ";;", ";", "&", "|", "(", ")"):
                if self.source.startswith(op, self.at):
                    self.at += len(op)
                    return Token("op", op, line)
        elif mode == "cond":
            for op in ("&&", "||", "(", ")"):
                if self.source.startswith(op, self.at):
                    self.at += len(op)
                    return Token("op", op, line)
        start = self.at
        word = self._word(mode)
        if self.at == start:  # `;` inside `[[ ]]`, a stray `<`: read nothing, never loop
            raise Refused(f"cannot read `{char}` here")
        return Token("word", word.source, line, word)

    def _word(self, mode: str) -> Word:
        start, line = self.at, self.line
        parts: list[Part] = []
        depth = 0
        while True:
            char = self._peek()
            if not char or char in " \t\n":
                if char == "\n" and mode == "regex" and depth:
                    raise Refused("a regex that spans lines")
                break
            if mode == "command" and char in _COMMAND_ENDS:
                break
            if mode == "cond" and (char in "();" or self.source.startswith(("&&", "||"), self.at)):
                if char == "(" and parts and not parts[-1].quoted and parts[-1].text in _EXTGLOB:
                    raise Refused("an extended glob (@(...), !(...), +(...)) is not translated")
                break
            if mode == "regex":
                if char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
            if char == "'":
                end = self.source.find("'", self.at + 1)
                if end == -1:
                    raise Refused("an unterminated ' quote")
                text = self.source[self.at + 1 : end]
                self.line += text.count("\n")
                parts.append(Part(text, True))
                self.at = end + 1
            elif char == '"':
                self.at += 1
                parts.extend(self._double_quoted())
            elif char == "\\":
                following = self._peek(1)
                self.at += 2
                if following == "\n":
                    self.line += 1
                elif following:
                    parts.append(Part(following, True))
            elif char == "$":
                parts.append(self._dollar(quoted=False))
            elif char == "`":
                parts.append(self._backticks(quoted=False))
            else:
                parts.append(Part(char, False))
                self.at += 1
        return Word(_merged(parts), line, self.source[start : self.at])

    def _double_quoted(self) -> list[Part]:
        parts: list[Part] = []
        while True:
            char = self._peek()
            if not char:
                raise Refused('an unterminated " quote')
            if char == '"':
                self.at += 1
                return parts
            if char == "\\" and self._peek(1) in ('"', "\\", "$", "`", "\n"):
                if self._peek(1) == "\n":
                    self.line += 1
                else:
                    parts.append(Part(self._peek(1), True))
                self.at += 2
            elif char == "$":
                parts.append(self._dollar(quoted=True))
            elif char == "`":
                parts.append(self._backticks(quoted=True))
            else:
                self.line += char == "\n"
                parts.append(Part(char, True))
                self.at += 1

    def _dollar(self, quoted: bool) -> Part:
        # indices into the source, never a copy of the rest: a line of many `$` stays linear
        source, after = self.source, self.at + 1
        simple = _NAME.match(source, after)
        if simple:
            self.at = simple.end()
            return Part(simple.group(), quoted, "var")
        following = source[after : after + 1]
        if following == "{":
            end = source.find("}", after)
            if end == -1:
                raise Refused("an unterminated ${")
            inner = source[after + 1 : end]
            self.at = end + 1
            if _NAME.fullmatch(inner):
                return Part(inner, quoted, "var")
            return Part("${" + inner + "}", quoted, "other")
        if following == "(":
            depth, index = 0, after - 1
            while index + 1 < len(source):
                index += 1
                depth += {"(": 1, ")": -1}.get(source[index], 0)
                if depth == 0:
                    break
            if depth:
                raise Refused("an unterminated $(")
            text = source[after : index + 1]
            self.line += text.count("\n")
            self.at = index + 1
            return Part("$" + text, quoted, "other")
        if following and (following in "?!#*@-$" or following.isdigit()):
            self.at += 2
            return Part("$" + following, quoted, "other")
        if following == "'" and not quoted:
            raise Refused("an ANSI-C $'...' string")
        self.at += 1
        return Part("$", quoted)

    def _backticks(self, quoted: bool) -> Part:
        end = self.source.find("`", self.at + 1)
        if end == -1:
            raise Refused("an unterminated ` quote")
        text = self.source[self.at : end + 1]
        self.line += text.count("\n")
        self.at = end + 1
        return Part(text, quoted, "other")


def _merged(parts: list[Part]) -> tuple[Part, ...]:
    """Adjacent literal parts of the same quoting as one part."""
    out: list[Part] = []
    run: list[str] = []  # the texts of the literal run being gathered, joined once

    def flush() -> None:
        if run:
            out[-1] = Part("".join(run), out[-1].quoted)
            run.clear()

    for part in parts:
        if out and part.kind == "text" == out[-1].kind and part.quoted == out[-1].quoted:
            if not run:
                run.append(out[-1].text)
            run.append(part.text)
        else:
            flush()
            out.append(part)
    flush()
    return tuple(out)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lexer = _Lexer(source)
        self.token = self.lexer.next()
        self.depth = 0

    def advance(self, mode: str = "command") -> Token:
        token = self.token
        self.token = self.lexer.next(mode)
        return token

    def at_word(self, *texts: str) -> bool:
        word = self.token.word
        return word is not None and any(word.is_(text) for text in texts)

    def skip_newlines(self) -> None:
        while self.token.kind == "op" and self.token.text == "\n":
            self.advance()

    def script(self) -> Sequence:
        found = self.list_until()
        if self.token.kind != "end":
            raise Refused(f"unexpected {self.token.text!r} on line {self.token.line}")
        return found

    def list_until(self, *ends: str) -> Sequence:
        items: list[Node] = []
        while True:
            self.skip_newlines()
            while self.token.kind == "op" and self.token.text in (";", "&"):
                self.advance()
                self.skip_newlines()
            if self.token.kind == "end" or self.at_word(*ends):
                return Sequence(tuple(items))
            items.append(self.and_or())
            if self.token.kind == "op" and self.token.text in (";", "&", "\n"):
                self.advance()
            elif self.token.kind != "end" and not self.at_word(*ends):
                raise Refused(f"unexpected {self.token.text!r} on line {self.token.line}")

    def and_or(self) -> Node:
        items = [self.pipeline()]
        ops: list[str] = []
        while self.token.kind == "op" and self.token.text in ("&&", "||"):
            ops.append(self.advance().text)
            self.skip_newlines()
            items.append(self.pipeline())
        return items[0] if not ops else AndOr(tuple(items), tuple(ops))

    def pipeline(self) -> Node:
        if self.at_word("!"):
            line = self.advance().line
            node: Node = Negated(self.command(), line)
        else:
            node = self.command()
        if self.token.kind == "op" and self.token.text == "|":
            raise Refused(f"a pipe on line {self.token.line}")
        return node

    def command(self) -> Node:
        token = self.token
        if token.kind != "word" or token.word is None:
            raise Refused(f"unexpected {token.text!r} on line {token.line}")
        word = token.word
        if word.is_("if"):
            return self.if_clause()
        if word.is_("[["):
            return self.cond()
        if word.bare and word.literal in _RESERVED:
            raise Refused(f"`{word.literal}` on line {token.line}")
        words: list[Word] = []
        while self.token.kind == "word" or (self.token.kind == "op" and self.token.text == ">"):
            if self.token.kind == "op":
                self.advance()
                if self.token.kind != "word":
                    raise Refused(f"a redirection without a target on line {token.line}")
            elif self.token.word is not None:
                words.append(self.token.word)
            self.advance()
        if self.token.kind == "op" and self.token.text in ("(", ")", ";;"):
            raise Refused(f"unexpected {self.token.text!r} on line {self.token.line}")
        return Command(tuple(words), token.line, " ".join(w.source for w in words))

    def if_clause(self) -> If:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Refused(f"`if` nested deeper than {MAX_DEPTH} levels")
        first = self.advance()
        branches: list[tuple[Node, Node]] = []
        otherwise: Node | None = None
        while True:
            condition = self.list_until("then")
            self.expect("then")
            body = self.list_until("elif", "else", "fi")
            branches.append((condition, body))
            if self.at_word("elif"):
                self.advance()
                continue
            if self.at_word("else"):
                self.advance()
                otherwise = self.list_until("fi")
            self.expect("fi")
            break
        self.depth -= 1
        return If(tuple(branches), otherwise, first.line, _line(self.source, first.line))

    def expect(self, word: str) -> None:
        if not self.at_word(word):
            raise Refused(f"expected `{word}` on line {self.token.line}, found {self.token.text!r}")
        self.advance()

    def cond(self) -> Cond:
        first = self.token
        self.token = self.lexer.next("cond")
        items: list[Word | str] = []
        while True:
            token = self.token
            if token.kind == "end":
                raise Refused(f"`[[` without `]]` on line {first.line}")
            if token.word is not None and token.word.is_("]]"):
                break
            items.append(token.word if token.word is not None else token.text)
            following = token.word is not None and token.word.is_("=~")
            self.token = self.lexer.next("regex" if following else "cond")
        self.advance()
        said = " ".join(item.source if isinstance(item, Word) else item for item in items)
        return Cond(tuple(items), first.line, f"[[ {said} ]]")


def _line(source: str, line: int) -> str:
    lines = source.split("\n")
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def parse_script(source: str) -> Sequence:
    """The script's commands; raises Refused for what this grammar does not read."""
    return _Parser(source).script()
