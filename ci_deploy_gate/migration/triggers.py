"""The v1/v1.1 curl triggers of a step's script, and the condition each one runs under.

CircleCI runs a step's script with `/bin/bash -eo pipefail`, so a test standing alone
that fails ends the script, as `exit` does; `if`/`elif`/`else`, `&&`, `||` and `!` guard
what follows. The step is replaced by the gate, so besides tests and the triggers it may
only print (`echo`, `printf`) or set options: anything else is refused, not dropped.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from ci_deploy_gate.migration import Refused
from ci_deploy_gate.migration.ifexpr import FALSE, TRUE, both, either, negate
from ci_deploy_gate.migration.shell import AndOr, Command, Cond, If, Negated, Sequence, Word
from ci_deploy_gate.migration.shelltest import translate_test
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.migration.ifexpr import Cond as Condition
    from ci_deploy_gate.migration.shell import Node

# A step is read only when it looks like a trigger: every other step is left alone.
LOOKS_LIKE_TRIGGER = re.compile(r"api/v1(\.1)?/project|build_parameters")
_URL = re.compile(
    r"^(?P<host>https?://[^/?#]+)/api/(?P<api>v1\.1|v1)/project/(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?$"
)
_PARAMETER = re.compile(r"^build_parameters\[(?P<name>[^\]]+)\]$")
_VALUE_OPTIONS = {
    "-u": "user", "--user": "user",
    "-H": "header", "--header": "header",
    "-d": "data", "--data": "data", "--data-ascii": "data", "--data-binary": "binary",
    "--data-raw": "raw", "--data-urlencode": "urlencode", "-F": "form", "--form": "form",
    "-X": "request", "--request": "request",
    "-o": "ignored", "--output": "ignored", "--retry": "ignored", "-m": "ignored",
    "--max-time": "ignored", "--connect-timeout": "ignored", "-w": "ignored",
    "--write-out": "ignored", "-A": "ignored", "--user-agent": "ignored",
    "--retry-delay": "ignored", "--retry-max-time": "ignored",
}  # fmt: skip
_FLAGS = frozenset(
    [
        "--silent",
        "--show-error",
        "--fail",
        "--location",
        "--verbose",
        "--include",
        "--insecure",
        "--retry-connrefused",
        "--retry-all-errors",
        "--compressed",
        "--fail-with-body",
    ]
)
_SHORT_FLAGS = frozenset("sSfLvik")
_VCS = {"github": "gh", "gh": "gh", "bitbucket": "bb", "bb": "bb"}
HARMLESS = frozenset({"echo", "printf", ":", "true"})
# what `set` may do in a trigger step: stop on errors (CircleCI's shell already does),
# print; never -u (an unset variable ends the script), +e, -f, -n, positional arguments
_SET_HARMLESS = re.compile(r"-[exv]+|-o|-[exv]*o|errexit|pipefail|xtrace|verbose")
BRANCH_VARIABLE = "CIRCLE_BRANCH"
SHA_VARIABLE = "CIRCLE_SHA1"
PROJECT_VARIABLES = ("CIRCLE_PROJECT_USERNAME", "CIRCLE_PROJECT_REPONAME")


class Trigger(NamedTuple):
    """One curl that fires a job, as the gate will fire it."""

    job: str
    token_env: str
    parameters: tuple[tuple[str, str], ...]  # the other build_parameters, in order
    pinned: bool  # sent revision=$CIRCLE_SHA1
    branch: str | None  # a branch named in the URL; None: $CIRCLE_BRANCH
    host: str  # https://circleci.com, or a server's
    vcs: str | None  # gh or bb when the URL names it
    project: tuple[str, str] | None  # (org, repo) when the URL names them
    api: str  # v1 or v1.1
    guard: Condition  # when the script reaches it
    line: int  # in the script
    text: str  # the curl command (a token is always a $VARIABLE)
    tests: tuple[str, ...] = ()  # the shell tests read before it, for the rules file


def is_curl(node: Node) -> bool:
    return isinstance(node, Command) and bool(node.words) and node.words[0].is_("curl")


class _Walk:
    def __init__(self) -> None:
        self.triggers: list[Trigger] = []
        self.tests: list[str] = []

    def walk(self, node: Node, reached: Condition) -> Condition:
        """Record the triggers under `node`; what is reached after it."""
        try:
            return self._walk(node, reached)
        except Refused as exc:
            if exc.line is None:
                exc.line = line_of(node)
            raise

    def _walk(self, node: Node, reached: Condition) -> Condition:
        if isinstance(node, Sequence):
            for item in node.items:
                reached = self.walk(item, reached)
            return reached
        if isinstance(node, If):
            return self.if_clause(node, reached)
        if isinstance(node, AndOr):
            return self.and_or(node, reached)
        if isinstance(node, Negated):
            if is_curl(node.node):
                return self.walk(node.node, reached)
            self.status(node.node)  # a test under `!`: bash -e does not stop on it
            return reached
        if isinstance(node, Cond) or _is_test(node):
            self.tests.append(node.text)
            return both(reached, translate_test(node))  # bash -e: a failed test ends it
        assert isinstance(node, Command)
        if is_curl(node):
            found = read_curl(node, reached)
            self.triggers.append(found._replace(tests=tuple(dict.fromkeys(self.tests))))
            return reached
        return both(reached, _harmless(node))

    def if_clause(self, node: If, reached: Condition) -> Condition:
        self.tests.append(node.text)
        taken: list[Condition] = []
        ends: list[Condition] = []
        for condition, body in node.branches:
            status = self.status(condition)
            guard = both(reached, *[negate(t) for t in taken], status)
            ends.append(self.walk(body, guard))
            taken.append(status)
        rest = both(reached, *[negate(t) for t in taken])
        ends.append(self.walk(node.otherwise, rest) if node.otherwise is not None else rest)
        return either(*ends)

    def and_or(self, node: AndOr, reached: Condition) -> Condition:
        """`a && b || c`: each item runs when the status so far says so (`&&`: success,
        `||`: failure); bash -e stops only when the last item runs and fails."""
        status: Condition = TRUE
        after = reached
        for index, item in enumerate(node.items):
            runs = (
                reached
                if index == 0
                else both(reached, status if node.ops[index - 1] == "&&" else negate(status))
            )
            if is_curl(item) or (isinstance(item, Negated) and is_curl(item.node)):
                self.walk(item, runs)
                own: Condition = TRUE
            elif isinstance(item, Command) and _exits(item):
                after = both(after, negate(runs))
                own = FALSE
            else:
                own = self.status(item)
                if isinstance(item, (Cond, Command)):
                    self.tests.append(item.text)
            if index == 0:
                status = own
            elif node.ops[index - 1] == "&&":
                status = both(status, own)
            else:
                status = either(status, own)
            if index == len(node.items) - 1 and not isinstance(item, Negated):
                after = both(after, negate(both(runs, negate(own))))
        return after

    def status(self, node: Node) -> Condition:
        """When a command list succeeds; only tests and printing may be in it."""
        try:
            return self._status(node)
        except Refused as exc:
            if exc.line is None:
                exc.line = line_of(node)
            raise

    def _status(self, node: Node) -> Condition:
        if isinstance(node, Sequence):
            if not node.items:
                return TRUE
            for item in node.items[:-1]:
                self.status(item)
            return self.status(node.items[-1])
        if isinstance(node, Negated):
            return negate(self.status(node.node))
        if isinstance(node, AndOr):
            found = self.status(node.items[0])
            for op, item in zip(node.ops, node.items[1:]):
                own = self.status(item)
                found = both(found, own) if op == "&&" else either(found, own)
            return found
        if isinstance(node, If):
            raise Refused("an `if` inside a condition")
        if is_curl(node):
            raise Refused("a trigger inside a condition")
        if isinstance(node, Cond) or _is_test(node):
            return translate_test(node)
        assert isinstance(node, Command)
        if _exits(node):
            raise Refused("`exit` inside a condition")
        return _harmless(node)


def line_of(node: Node) -> int | None:
    if isinstance(node, Sequence):
        return line_of(node.items[0]) if node.items else None
    if isinstance(node, AndOr):
        return line_of(node.items[0])
    return node.line


def _is_test(node: Node) -> bool:
    if not isinstance(node, Command) or not node.words:
        return False
    first = node.words[0]
    return any(first.is_(name) for name in ("[", "test", "true", "false", ":"))


def _exits(node: Command) -> bool:
    return bool(node.words) and node.words[0].is_("exit")


def _harmless(node: Command) -> Condition:
    """Printing, or `set` (not `set +e`): nothing the gate must do; else refused."""
    if not node.words:
        return TRUE
    name = node.words[0].literal if node.words[0].bare else None
    if name in HARMLESS:
        return TRUE
    if name == "set":
        if all(_SET_HARMLESS.fullmatch(w.literal or "") for w in node.words[1:]):
            return TRUE
        raise Refused(
            f"`{node.text}` changes how the rest of the script runs (`set -u` ends it on an "
            "unset variable): only set -e, -x, -v and -o errexit, pipefail, xtrace or "
            "verbose are read; remove it first"
        )
    if name == "exit":
        return FALSE
    raise Refused(
        f"the step also runs `{node.text}`, which the gate does not do: "
        "move it to a step of its own first (the step is replaced by the gate)"
    )


def find_triggers(script: Sequence) -> tuple[Trigger, ...]:
    """Every curl trigger of the script and when it runs."""
    walk = _Walk()
    walk.walk(script, TRUE)
    return tuple(walk.triggers)


# --- reading one curl -------------------------------------------------------------------


def _template(word: Word) -> str:
    """The word with each variable as ${NAME}; other expansions are refused."""
    out: list[str] = []
    for part in word.parts:
        if part.kind == "other":
            raise Refused(f"{word.source}: `{part.text}` is worked out when the step runs")
        out.append("${" + part.text + "}" if part.kind == "var" else part.text.replace("$", "$$"))
    return "".join(out)


_ONE_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _variable(text: str) -> str | None:
    found = _ONE_VARIABLE.match(text)
    return found.group(1) if found else None


def _literal(text: str) -> str | None:
    return None if re.search(r"\$\{", text) else text.replace("$$", "$")


class _Curl:
    def __init__(self, command: Command) -> None:
        self.command = command
        self.tokens: list[str] = []
        self.fields: list[tuple[str, str]] = []
        self.urls: list[str] = []

    def token(self, variable: str | None, how: str) -> None:
        if variable is None:
            raise Refused(
                f"{how} is not a $VARIABLE: a token written into the config must move to "
                "a project environment variable (and be revoked: it is in the history)",
                secret=True,
            )
        self.tokens.append(variable)

    def read(self) -> None:
        words = self.command.words[1:]
        i = 0
        while i < len(words):
            text = _template(words[i])
            option, value = text, None
            if not words[i].bare and not text.startswith("-"):
                self.urls.append(text)
                i += 1
                continue
            if text.startswith("--") or not text.startswith("-") or len(text) == 2:
                pass
            elif text[:2] in _VALUE_OPTIONS:
                option, value = text[:2], text[2:]
            elif all(c in _SHORT_FLAGS for c in text[1:]):
                i += 1
                continue
            if option in _VALUE_OPTIONS:
                if value is None:
                    if i + 1 >= len(words):
                        raise Refused(f"`{option}` without its value")
                    value = _template(words[i + 1])
                    i += 1
                self.option(_VALUE_OPTIONS[option], value)
            elif option in _FLAGS or (
                option.startswith("-") and len(option) == 2 and option[1] in _SHORT_FLAGS
            ):
                pass
            elif option.startswith("-"):
                raise Refused(f"the curl option `{option}` is not translated")
            else:
                self.urls.append(text)
            i += 1

    def option(self, kind: str, value: str) -> None:
        if kind == "user":
            self.token(_variable(value[:-1] if value.endswith(":") else value), "-u")
        elif kind == "header":
            name, _, said = value.partition(":")
            if name.strip().lower() == "circle-token":
                self.token(_variable(said.strip()), "the Circle-Token header")
        elif kind in ("data", "raw", "binary", "urlencode", "form"):
            # --data-raw never reads a file: its @ is sent as it is
            if (value.startswith("@") and kind != "raw") or (
                kind == "form" and value.startswith("<")
            ):
                raise Refused(f"`{value}` sends a file")
            if value.lstrip().startswith("{"):
                raise Refused(
                    "a JSON body is not translated: use the form "
                    "fields build_parameters[CIRCLE_JOB]=..."
                )
            # -d, --data-raw and --data-binary send the text as it is, and the server
            # url-decodes the form body: the field is what it decodes to. --data-urlencode
            # encodes the content (the server gets it back as written), not the name.
            pieces = value.split("&") if kind in ("data", "raw", "binary") else [value]
            for piece in pieces:
                name, equals, content = piece.partition("=")
                if not equals:
                    raise Refused(f"`{piece}` is not a NAME=VALUE form field")
                if kind in ("data", "raw", "binary"):
                    name, content = unquote_plus(name), unquote_plus(content)
                elif kind == "urlencode":
                    name = unquote_plus(name)
                self.fields.append((name, content))
        elif kind == "request" and value.upper() != "POST":
            raise Refused(f"-X {value}: not a trigger (it POSTs)")


def read_curl(command: Command, guard: Condition) -> Trigger:
    """What one curl trigger sends; Refused for a form the gate cannot send the same."""
    curl = _Curl(command)
    curl.read()
    if len(curl.urls) != 1:
        raise Refused("a curl trigger must name exactly one URL")
    authority = re.split(r"[/?#]", curl.urls[0].partition("://")[2] or curl.urls[0], maxsplit=1)
    if "@" in authority[0]:
        raise Refused(
            "the URL holds a user name or password (USER:PASSWORD@HOST): the gate sends "
            "no credential from a URL; a credential written into the config must move to "
            "a project environment variable, sent with -u $VARIABLE: (and be revoked: it "
            "is in the history)",
            secret=True,
        )
    url = _URL.match(curl.urls[0])
    if not url:
        raise Refused(
            f"{curl.urls[0]} is not a v1/v1.1 trigger URL "
            "(.../api/v1.1/project/VCS/ORG/REPO/tree/BRANCH)"
        )
    for field in (url.group("query") or "").split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if name == "circle-token":
            curl.token(_variable(value), "circle-token=")
        else:
            raise Refused(f"the URL's `{field}` is not translated")
    path = url.group("path").split("/")
    vcs = None
    if url.group("api") == "v1.1":
        if not path or path[0] not in _VCS:
            raise Refused(f"{curl.urls[0]}: the VCS must be github or bitbucket")
        vcs, path = _VCS[path[0]], path[1:]
    if len(path) != 4 or path[2] != "tree" or not path[3]:
        raise Refused(f"{curl.urls[0]}: expected ORG/REPO/tree/BRANCH after the VCS")
    org, repo, _, branch = path
    project: tuple[str, str] | None = None
    names = (_variable(org), _variable(repo))
    if names != PROJECT_VARIABLES:
        literal_org, literal_repo = _literal(org), _literal(repo)
        if literal_org is None or literal_repo is None:
            raise Refused(
                f"{org}/{repo}: the project is named by "
                "$CIRCLE_PROJECT_USERNAME/$CIRCLE_PROJECT_REPONAME or literally"
            )
        project = (literal_org, literal_repo)
    branch_name: str | None = None
    if _variable(branch) != BRANCH_VARIABLE:
        branch_name = _literal(branch)
        if branch_name is None:
            raise Refused(f"{branch}: the branch is $CIRCLE_BRANCH or a name")
        branch_name = unquote_plus(branch_name)
    if len(set(curl.tokens)) != 1:
        raise Refused(
            "the trigger sends no token ($VARIABLE in -u, Circle-Token or circle-token=)"
            if not curl.tokens
            else "the trigger names two tokens"
        )
    job, pinned, parameters = None, False, []
    for name, value in curl.fields:
        found = _PARAMETER.match(name)
        if name == "revision":
            if _variable(value) != SHA_VARIABLE:
                raise Refused(f"revision={value}: the gate pins the deploy to $CIRCLE_SHA1 only")
            pinned = True
        elif name == "circle-token":
            curl.token(_variable(value), "circle-token=")
        elif found and found.group("name") == "CIRCLE_JOB":
            job = _literal(value)
            if not job:
                raise Refused(f"build_parameters[CIRCLE_JOB]={value}: the job must be named")
        elif found:
            literal = _literal(value)
            if literal is None:
                raise Refused(
                    f"build_parameters[{found.group('name')}]={value}: "
                    "the gate sends literal values only"
                )
            parameters.append((found.group("name"), literal))
        else:
            raise Refused(f"the form field `{name}` is not translated")
    if job is None:
        raise Refused("the trigger names no job (build_parameters[CIRCLE_JOB]=JOB)")
    return Trigger(
        job=job,
        token_env=curl.tokens[0],
        parameters=tuple(parameters),
        pinned=pinned,
        branch=branch_name,
        host=url.group("host"),
        vcs=vcs,
        project=project,
        api=url.group("api"),
        guard=guard,
        line=command.line,
        text=command.text,
    )
