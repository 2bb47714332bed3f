"""Shell tests translated into the `if` language, exactly or not at all.

    [[ ... ]]  := or ;  or := and ('||' and)* ;  and := unary ('&&' unary)*
                  unary := '!' unary | '(' or ')' | primary
                  primary := ('-n' | '-z') WORD | WORD ('==' | '=' | '!=' | '=~') WORD | WORD
    [ ... ], test ...  := bash's rules by the number of arguments (0 to 4), `!`, `-a`, `-o`

Where bash and the gate differ, the translation says what bash means:
- an unset variable is the empty string in bash, and unset (equal to nothing, matching
  nothing) in the gate; each comparison asks what bash answers for "" and adds
  `not FACT matches "*"` (the fact is unset) where bash says yes;
- `==` in `[[ ]]` is a bash glob (quoted parts literal), which becomes the gate's glob
  (fnmatch, whose `*` crosses `/` as bash's does) or, when fnmatch cannot say it, a
  /regex/; `=~` searches, the gate's /regex/ must match the whole value, so the regex is
  wrapped in `.*` where it is not anchored, and `.` and `$` keep bash's meaning;
- in `[ ]` an unquoted `$X` that is empty vanishes, and the test is the shorter one.
Character classes other than [:digit:] and [:xdigit:] depend on the locale and are refused.
"""

from __future__ import annotations

import re

from ci_deploy_gate.migration import Refused
from ci_deploy_gate.migration.ifexpr import (
    FALSE,
    TRUE,
    Const,
    Leaf,
    both,
    either,
    escape,
    fact_of_variable,
    is_set,
    negate,
    slashed,
)
from ci_deploy_gate.migration.shell import Command, Cond, Word

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from ci_deploy_gate.migration.ifexpr import Cond as Condition

_UNARY_FILE_TESTS = frozenset(
    [
        "-a",
        "-b",
        "-c",
        "-d",
        "-e",
        "-f",
        "-g",
        "-h",
        "-k",
        "-p",
        "-r",
        "-s",
        "-t",
        "-u",
        "-w",
        "-x",
        "-G",
        "-L",
        "-N",
        "-O",
        "-S",
        "-o",
        "-v",
        "-R",
    ]
)
_BINARY = frozenset(
    [
        "=",
        "==",
        "!=",
        "<",
        ">",
        "-eq",
        "-ne",
        "-lt",
        "-le",
        "-gt",
        "-ge",
        "-nt",
        "-ot",
        "-ef",
        "-a",
        "-o",
    ]
)
_CLASSES = {"digit": "0-9", "xdigit": "0-9A-Fa-f"}  # the same in every locale
_GLOB_SAFE = re.compile(r"[A-Za-z0-9]")


class _BashError(Exception):
    """`[` itself fails (status 2): false to `if`, `&&` and `||`, as a failed test."""


def translate_test(node: Command | Cond) -> Condition:
    """The condition a test command succeeds on; Refused when it cannot be said exactly."""
    if isinstance(node, Cond):
        return _DoubleBracket(node.items).parse()
    words = node.words
    # quoting a builtin's name ("[", 'test') does not stop bash from running it
    name = words[0].literal if words else None
    if name in ("true", ":") and len(words) == 1:
        return TRUE
    if name == "false" and len(words) == 1:
        return FALSE
    if name == "[":
        if words[-1].literal != "]" or len(words) < 2:
            return FALSE  # `[` without `]` is an error
        return _single_bracket(words[1:-1])
    if name == "test":
        return _single_bracket(words[1:])
    raise Refused(f"`{node.text}` is not a test the gate can read")


# --- [ ] and test -----------------------------------------------------------------------


def _single_bracket(args: Sequence[Word]) -> Condition:
    """Word splitting makes an empty unquoted `$X` vanish: then the test is the shorter
    one. Only names of CircleCI's own facts may stand unquoted (their values never hold
    spaces or glob characters); anything else unquoted could split or expand."""
    unquoted = [
        i
        for i, word in enumerate(args)
        if any(p.kind != "text" and not p.quoted for p in word.parts)
    ]
    for word in args:
        if word.literal is not None and any(
            c in "*?[" for p in word.parts if not p.quoted for c in p.text
        ):
            raise Refused(
                f"the unquoted {word.source} in `[` is expanded against file names: quote it"
            )
    if not unquoted:
        return _posix_test(list(args))
    if len(unquoted) > 1:
        raise Refused("more than one unquoted variable in `[`: quote them")
    word = args[unquoted[0]]
    variable = word.variable
    if variable is None or fact_of_variable(variable).startswith("env."):
        raise Refused(f"the unquoted {word.source} in `[` splits into words: quote it")
    fact = fact_of_variable(variable)
    rest = [w for i, w in enumerate(args) if i != unquoted[0]]
    return either(
        both(is_set(fact), _posix_test(list(args))),
        both(negate(is_set(fact)), _posix_test(rest)),
    )


def _posix_test(args: list[Word]) -> Condition:
    try:
        return _by_count(args)
    except _BashError:
        return FALSE


def _by_count(args: list[Word]) -> Condition:
    """bash's `test` by the number of arguments. `test` sees its arguments after quote
    removal, so a quoted operator ("=", "-n", \\=) is an operator all the same (unlike in
    `[[ ]]`); a $VARIABLE where an operator may stand could be one, and is refused."""
    texts = [w.literal for w in args]
    if not args:
        return FALSE
    if len(args) == 1:
        return _non_empty(args[0])
    if len(args) == 3 and texts[1] is None:
        raise Refused(f"{args[1].source} stands where `[` reads an operator: write it out")
    if texts[0] is None and not (len(args) == 3 and texts[1] in _BINARY):
        raise Refused(f"{args[0].source} stands where `[` reads an operator: write it out")
    if len(args) == 2:
        if texts[0] == "!":
            return negate(_non_empty(args[1]))
        if texts[0] == "-n":
            return _non_empty(args[1])
        if texts[0] == "-z":
            return negate(_non_empty(args[1]))
        if texts[0] in _UNARY_FILE_TESTS:
            raise Refused(f"`{texts[0]}` tests the file system, not the build")
        raise _BashError
    if len(args) == 3:
        if texts[1] in _BINARY:
            return _binary(args[0], str(texts[1]), args[2], glob=False)
        if texts[0] == "!":
            return negate(_by_count(args[1:]))
        if texts[0] == "(" and texts[2] == ")":
            return _non_empty(args[1])
        raise _BashError
    if len(args) == 4 and texts[0] == "!":
        return negate(_by_count(args[1:]))
    raise Refused("a `[` test of more than three words: use `[[ ]]`, `&&` or `||`")


# --- [[ ]] ------------------------------------------------------------------------------


class _DoubleBracket:
    def __init__(self, items: Sequence[Word | str]) -> None:
        self.items = list(items)
        self.pos = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Word | str | None:
        at = self.pos + offset
        return self.items[at] if at < len(self.items) else None

    def parse(self) -> Condition:
        if not self.items:
            raise Refused("an empty `[[ ]]`")
        found = self.either()
        if self.peek() is not None:
            raise Refused(f"cannot read {_said(self.peek())!r} in `[[ ]]`")
        return found

    def either(self) -> Condition:
        items = [self.both()]
        while self.peek() == "||":
            self.pos += 1
            items.append(self.both())
        return either(*items)

    def both(self) -> Condition:
        items = [self.unary()]
        while self.peek() == "&&":
            self.pos += 1
            items.append(self.unary())
        return both(*items)

    def unary(self) -> Condition:
        item = self.peek()
        if isinstance(item, Word) and item.is_("!") and self.peek(1) is not None:
            self.pos += 1
            return negate(self.unary())
        if item == "(":
            self.depth += 1
            if self.depth > 50:
                raise Refused("`[[ ]]` nested too deep")
            self.pos += 1
            inner = self.either()
            if self.peek() != ")":
                raise Refused("an unclosed `(` in `[[ ]]`")
            self.pos += 1
            self.depth -= 1
            return inner
        return self.primary()

    def primary(self) -> Condition:
        first, second, third = self.peek(), self.peek(1), self.peek(2)
        if not isinstance(first, Word):
            raise Refused(f"cannot read {_said(first)!r} in `[[ ]]`")
        operator = second.literal if isinstance(second, Word) and second.bare else None
        if operator in _BINARY or operator == "=~":
            if not isinstance(third, Word):
                raise Refused(f"`{operator}` without its right-hand side")
            self.pos += 3
            if operator == "=~":
                return _regex(first, third)
            return _binary(first, str(operator), third, glob=True)
        flag = first.literal if first.bare else None
        if flag in ("-n", "-z") and isinstance(second, Word):
            self.pos += 2
            found = _non_empty(second)
            return found if flag == "-n" else negate(found)
        if flag in _UNARY_FILE_TESTS and isinstance(second, Word):
            raise Refused(f"`{flag}` tests the file system, not the build")
        self.pos += 1
        return _non_empty(first)


def _said(item: Word | str | None) -> str:
    return item.source if isinstance(item, Word) else str(item or "the end")


# --- comparisons ------------------------------------------------------------------------


def _non_empty(word: Word) -> Condition:
    literal = word.literal
    if literal is not None:
        return Const(literal != "")
    return is_set(_fact(word))


def _fact(word: Word) -> str:
    variable = word.variable
    if variable is None:
        raise Refused(f"{word.source}: only a whole $VARIABLE or a literal can be compared")
    return fact_of_variable(variable)


def _binary(left: Word, operator: str, right: Word, *, glob: bool) -> Condition:
    if operator not in ("=", "==", "!="):
        raise Refused(
            f"`{operator}` compares numbers, files or sort order, not a value the gate has"
        )
    if left.literal is not None and right.variable is not None:
        if glob and not all(p.quoted for p in right.parts):
            raise Refused(f"the unquoted {right.source} after `{operator}` is a pattern: quote it")
        left, right = right, left  # plain equality reads the same both ways
        glob = False
    if left.literal is not None and right.literal is not None:
        pattern = _pattern(right, glob)
        return Const(_matches(pattern, left.literal) != (operator == "!="))
    fact = _fact(left)
    if right.literal is None:
        raise Refused(f"{right.source}: a comparison of two variables cannot be a gate condition")
    found = _compare(fact, _pattern(right, glob))
    return negate(found) if operator == "!=" else found


class _Pattern:
    """A bash pattern as the gate will test it: exact, glob (fnmatch) or regex (the
    gate's full match), and the Python regex it stands for."""

    def __init__(self, kind: str, text: str, regex: str) -> None:
        self.kind, self.text, self.regex = kind, text, regex


def _matches(pattern: _Pattern, value: str) -> bool:
    return re.fullmatch(pattern.regex, value) is not None


def _compare(fact: str, pattern: _Pattern) -> Condition:
    """The fact matches the pattern, with bash's answer for the empty string."""
    if pattern.kind == "exact" and pattern.text == "":
        return negate(is_set(fact))
    op = "is" if pattern.kind == "exact" else "matches"
    text = f"/{pattern.text}/" if pattern.kind == "regex" else pattern.text
    found: Condition = Leaf(fact, op, text)
    return either(negate(is_set(fact)), found) if _matches(pattern, "") else found


def _chars(word: Word) -> list[tuple[str, bool]]:
    if word.literal is None:
        raise Refused(f"{word.source}: a pattern made from a variable cannot be a gate condition")
    return [(char, part.quoted) for part in word.parts for char in part.text]


def _pattern(word: Word, glob: bool) -> _Pattern:
    chars = _chars(word)
    if not glob or all(quoted or char not in "*?[()|" for char, quoted in chars):
        text = "".join(char for char, _ in chars)
        return _Pattern("exact", text, re.escape(text))
    return _bash_glob(chars, word.source)


def _bash_glob(chars: list[tuple[str, bool]], source: str) -> _Pattern:
    regex: list[str] = []
    fn: list[str] | None = []
    i = 0
    while i < len(chars):
        char, quoted = chars[i]
        if quoted or char not in "*?[()|":
            regex.append(escape(char))
            if fn is not None:
                fn.append(f"[{char}]" if char in "*?[" else char)
            i += 1
        elif char == "*":
            regex.append("(?s:.*)")
            if fn is not None:
                fn.append("*")
            i += 1
        elif char == "?":
            regex.append("(?s:.)")
            if fn is not None:
                fn.append("?")
            i += 1
        elif char == "[":
            found = _bracket(chars, i, ere=False)
            if found is None:  # no closing `]`: a literal `[`
                regex.append(escape("["))
                if fn is not None:
                    fn.append("[[]")
                i += 1
                continue
            end, members, negated, plain = found
            regex.append(f"[{'^' if negated else ''}{members}]")
            if fn is not None and plain:
                fn.append(f"[{'!' if negated else ''}{members}]")
            else:
                fn = None
            i = end
        else:
            raise Refused(f"{source}: an extended glob (`{char}`) is not translated")
    pattern = "".join(regex)
    glob_text = "".join(fn) if fn is not None else None
    if glob_text is not None and not (glob_text.startswith("/") and glob_text.endswith("/")):
        return _Pattern("glob", glob_text, pattern)
    return _Pattern("regex", slashed(pattern), pattern)


def _bracket(
    chars: list[tuple[str, bool]], start: int, *, ere: bool
) -> tuple[int, str, bool, bool] | None:
    """A bracket expression from `[`: (index after `]`, the members as a Python class
    body, negated, whether fnmatch can say it too), or None when no `]` closes it."""
    i = start + 1
    negated = False
    if i < len(chars) and not chars[i][1] and chars[i][0] in ("^",) + (() if ere else ("!",)):
        negated = True
        i += 1
    members: list[str] = []
    plain = True
    first = True
    while i < len(chars):
        char, quoted = chars[i]
        if char == "]" and not quoted and not first:
            return i + 1, "".join(members), negated, plain
        first = False
        if char == "[" and not quoted and i + 1 < len(chars) and chars[i + 1][0] in ":=.":
            kind = chars[i + 1][0]
            rest = "".join(c for c, _ in chars[i + 2 :])
            close = rest.find(kind + "]")
            if close == -1:
                raise Refused("an unclosed [: in a bracket expression")
            name = rest[:close]
            if kind != ":" or name not in _CLASSES:
                raise Refused(
                    f"[{kind}{name}{kind}] depends on the locale: write the characters out"
                )
            members.append(_CLASSES[name])
            plain = False
            i += 2 + close + 2
            continue
        if char == "-" and not quoted and members and i + 1 < len(chars) and chars[i + 1][0] != "]":
            members.append("-")
            i += 1
            continue
        if quoted and not ere and char == "\\":
            plain = False
        members.append(escape(char, in_class=True))
        if not _GLOB_SAFE.fullmatch(char):
            plain = False
        i += 1
    if ere:
        raise Refused("an unclosed `[` in a regex")
    return None


# --- =~ ---------------------------------------------------------------------------------


def _regex(left: Word, right: Word) -> Condition:
    if left.literal is not None:
        raise Refused(f"`{left.source} =~ ...`: the left side must be a variable")
    fact = _fact(left)
    body, anchored_start, anchored_end, alternation, dotall = _ere(_chars(right), right.source)
    searching = re.compile(
        ("^" if anchored_start else "") + body + ("\\Z" if anchored_end else ""), re.DOTALL
    )
    inner = f"(?:{body})" if alternation else body
    whole = ("" if anchored_start else ".*") + inner + ("" if anchored_end else ".*")
    flags = "(?s)" if dotall or not (anchored_start and anchored_end) else ""
    text = slashed(flags + whole)
    try:
        re.compile(text)
    except re.error as exc:
        raise Refused(f"{right.source}: not a regex Python reads the same way ({exc})") from None
    found: Condition = Leaf(fact, "matches", f"/{text}/")
    if searching.search("") is not None:
        return either(negate(is_set(fact)), found)
    return found


def _ere(chars: list[tuple[str, bool]], source: str) -> tuple[str, bool, bool, bool, bool]:
    """A POSIX extended regex (bash's =~) as Python's: (body without the leading `^` and
    trailing `$` it may have, anchored at the start, at the end, top-level `|`, uses `.`)."""
    out: list[str] = []
    depth = 0
    alternation = dotall = False
    anchored_start = anchored_end = False
    i = 0
    last_plain_dollar = -1
    while i < len(chars):
        char, quoted = chars[i]
        if quoted:
            out.append(escape(char))
        elif char == "^":
            if i == 0:
                anchored_start = True
            else:
                out.append("^")
        elif char == "$":
            if i == len(chars) - 1 and depth == 0:
                last_plain_dollar = i
            else:
                out.append("\\Z")
        elif char == ".":
            dotall = True
            out.append(".")
        elif char == "[":
            found = _bracket(chars, i, ere=True)
            assert found is not None
            end, members, negated, _ = found
            out.append(f"[{'^' if negated else ''}{members}]")
            i = end
            continue
        elif char == "(":
            if i + 1 < len(chars) and chars[i + 1] == ("?", False):
                raise Refused(f"{source}: `(?` is not a POSIX regex")
            depth += 1
            out.append("(")
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise Refused(f"{source}: an unmatched `)`")
            out.append(")")
        elif char == "|":
            alternation = alternation or depth == 0
            out.append("|")
        elif char in "*+?":
            out.append(char)
        elif char == "{":
            interval = re.match(r"\{[0-9]+(,[0-9]*)?\}", "".join(c for c, _ in chars[i:]))
            if not interval:
                raise Refused(f"{source}: a `{{` that is not a repeat count")
            out.append(interval.group())
            i += interval.end()
            continue
        else:
            out.append(escape(char))
        i += 1
    if depth:
        raise Refused(f"{source}: an unclosed `(`")
    anchored_end = last_plain_dollar >= 0
    if alternation and (anchored_start or anchored_end):
        # `^a|b$` anchors each side alone: keep the anchors inside
        body = ("^" if anchored_start else "") + "".join(out) + ("\\Z" if anchored_end else "")
        return body, False, False, True, dotall
    return "".join(out), anchored_start, anchored_end, alternation, dotall
