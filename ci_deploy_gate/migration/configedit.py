"""The CircleCI config read and rewritten with ruamel.yaml's round-trip mode, which keeps
what a reviewer needs to recognise their file: comments, anchors and aliases, merge keys,
key order, quoting and indentation (guessed from the file). Only `migrate` imports it.

Where a changed node is shared through an anchor, the job gets its own copy, so no
other job changes behind the reviewer's back.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

JOB_PARAMETER = "deploy_job"
REVISION_PARAMETER = "deploy_revision"
REVISION_ENV = "DEPLOY_REVISION"
STEP_KINDS = ("run", "deploy")


def parameter(name: str) -> str:
    return f"<< pipeline.parameters.{name} >>"


class Loaded(NamedTuple):
    yaml: Any  # ruamel.yaml.YAML, set up to write the file back the way it was
    data: Any  # its CommentedMap


class Step(NamedTuple):
    """A `run:` or `deploy:` step of a job."""

    job: str
    position: int  # in the job's steps
    kind: str  # run | deploy
    command: str
    line: int  # 1-based line of the command's first line in the config


def load(text: str, path: str) -> Loaded:
    """The config, or ConfigError with file:line for what ruamel cannot read."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        mapping, offset = guess_indent(text)
        yaml = YAML()
        yaml.preserve_quotes = True
        yaml.width = 4096  # never fold a long line that was not folded
        yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        said = " ".join(str(exc.problem or exc.context or "").split())
        raise ConfigError(f"{path}:{line}: cannot parse the CircleCI config: {said}") from None
    except (YAMLError, ValueError, TypeError, RecursionError) as exc:
        said = " ".join(str(exc).split())
        raise ConfigError(f"{path}: cannot parse the CircleCI config: {said}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}:1: not a CircleCI config (expected a mapping at the top)")
    return Loaded(yaml, data)


def guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, offset of a block sequence's `-` from its key), as the file writes
    them, so the rewritten file keeps its shape: the first nested key and the first
    nested `-` decide."""
    mapping = offset = None
    parent: int | None = None
    for raw in text.splitlines():
        stripped = raw.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(stripped)
        if parent is not None and indent > parent:
            if stripped.startswith("- ") and offset is None:
                offset = indent - parent
            elif not stripped.startswith("- ") and mapping is None:
                mapping = indent - parent
        opens = stripped.rstrip().endswith(":") and not stripped.startswith("- ")
        parent = indent if opens else None
        if mapping is not None and offset is not None:
            break
    return mapping or 2, offset if offset is not None else 0


def dump(loaded: Loaded) -> str:
    out = io.StringIO()
    loaded.yaml.dump(loaded.data, out)
    return out.getvalue()


def jobs(data: Mapping[str, Any]) -> Mapping[str, Any]:
    found = data.get("jobs")
    return found if isinstance(found, Mapping) else {}


def steps(data: Mapping[str, Any]) -> Iterator[Step]:
    """Every run/deploy step of every job, with the line its command starts on."""
    for name, job in jobs(data).items():
        listed = job.get("steps") if isinstance(job, Mapping) else None
        if not isinstance(listed, list):
            continue
        for index, step in enumerate(listed):
            if not isinstance(step, Mapping) or len(step) != 1:
                continue
            kind = next(iter(step))
            if kind not in STEP_KINDS:
                continue
            body = step[kind]
            if isinstance(body, Mapping):
                command, holder, key = body.get("command"), body, "command"
            else:
                command, holder, key = body, step, kind
            if isinstance(command, str):
                yield Step(str(name), index, str(kind), command, _value_line(holder, key, command))


def _value_line(holder: Any, key: str, value: object) -> int:
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    try:
        line = int(holder.lc.value(key)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return 1
    return line + 1 if isinstance(value, (LiteralScalarString, FoldedScalarString)) else line


def line_of_job(data: Mapping[str, Any], job: str) -> int:
    try:
        return int(data["jobs"].lc.key(job)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return 1


def line_of_key(holder: Any, key: str) -> int:
    try:
        return int(holder.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return 1


def environment_lines(data: Mapping[str, Any], job: str) -> dict[str, int]:
    """The names the job's own `environment:` sets (written there, merged in or aliased;
    a map or a list of maps), each with the line that sets it."""
    body = jobs(data).get(job)
    existing = body.get("environment") if isinstance(body, Mapping) else None
    found: dict[str, int] = {}
    for item in existing if isinstance(existing, list) else [existing]:
        if isinstance(item, Mapping):
            for name in item:
                found.setdefault(str(name), line_of_key(item, name))
    return found


def non_bash_shell(data: Mapping[str, Any], step: Step) -> tuple[int, str] | None:
    """(line, value) of the step's `shell:`, or else its job's, when it is not bash with
    options that leave the script's meaning alone; None for CircleCI's default
    (`/bin/bash -eo pipefail`) and the like."""
    import shlex

    job = jobs(data)[step.job]
    body = job["steps"][step.position][step.kind]
    for holder in (body, job):
        if not isinstance(holder, Mapping) or "shell" not in holder:
            continue
        value = holder["shell"]
        try:
            words = shlex.split(value) if isinstance(value, str) else []
        except ValueError:
            words = []
        if words[:1] == ["/usr/bin/env"]:
            words = words[1:]
        if not (
            words
            and words[0].rsplit("/", 1)[-1] == "bash"
            and all(_BASH_OPTIONS.fullmatch(w) for w in words[1:])
        ):
            return line_of_key(holder, "shell"), str(value)
        return None
    return None


_BASH_OPTIONS = re.compile(r"-[elxvo]+|--login|--noprofile|--norc|errexit|pipefail|xtrace|verbose")


def shared_step(data: Mapping[str, Any], step: Step) -> str | None:
    """Another job whose steps hold this very step (through an alias), if any."""
    target = jobs(data)[step.job]["steps"][step.position]
    for name, job in jobs(data).items():
        listed = job.get("steps") if isinstance(job, Mapping) else None
        if name != step.job and isinstance(listed, list) and any(s is target for s in listed):
            return str(name)
    return None


# --- the edits --------------------------------------------------------------------------


def _flow(items: Mapping[str, Any] | list[Any]) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    made: Any = CommentedMap(items) if isinstance(items, Mapping) else CommentedSeq(items)
    made.fa.set_flow_style()
    return made


def _text(value: str) -> Any:
    """ "" as `""`, which reads better than `''` next to the README's examples."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(value) if value == "" else value


def _equal(value: str) -> Any:
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap([("equal", _flow([_text(value), parameter(JOB_PARAMETER)]))])


def _own(holder: Any, key: str) -> bool:
    """Whether `key` is written in `holder` itself, not merged in (`<<: *defaults`), and
    its value is not anchored for others to alias."""
    if key not in dict(holder.non_merged_items()):
        return False
    anchor = getattr(holder[key], "anchor", None)
    return getattr(anchor, "value", None) is None


def _comment_after(holder: Any, key: str) -> str | None:
    """The comment at the end of a key's line, taken off: once the value becomes a block
    it would trail the block, so it goes back on the key's line. ruamel keeps a comment
    after an alias (`environment: *env  # ...`) before the next key, so look there too."""
    try:
        line = holder.lc.key(key)[0]
    except (AttributeError, KeyError, TypeError):
        return None
    keys = [k for k, _ in holder.non_merged_items()]
    after = keys.index(key) + 1 if key in keys else len(keys)
    following = keys[after] if after < len(keys) else None
    for name, slot in ((key, 2), (following, 1)):
        tokens: Any = holder.ca.items.get(name) if name is not None else None
        found: Any = tokens[slot] if tokens and len(tokens) > slot else None
        token: Any
        for token in found if isinstance(found, list) else [found]:
            mark = getattr(token, "start_mark", None)
            if mark is not None and mark.line == line and token.value.strip().startswith("#"):
                text = token.value.strip()
                if isinstance(found, list):
                    found.remove(token)
                else:
                    tokens[slot] = None
                return " ".join(text[1:].split())
    return None


def _is_map(value: object) -> bool:
    """isinstance without narrowing: ruamel's maps are edited through Any."""
    return isinstance(value, Mapping)


def set_version(data: Any) -> None:
    data["version"] = 2.1


def declare_parameters(data: Any, names: list[str]) -> None:
    from ruamel.yaml.comments import CommentedMap

    declared = CommentedMap(
        (name, _flow({"type": "string", "default": _text("")})) for name in names
    )
    position = list(data).index("version") + 1 if "version" in data else 0
    data.insert(position, "parameters", declared)


def replace_step(data: Any, step: Step, command: str) -> None:
    """The trigger step becomes a `run:` step calling the gate; its other keys (name,
    working_directory, ...) stay."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    job = data["jobs"][step.job]
    listed = _own_list(job, "steps")
    old = listed[step.position]
    body = old[step.kind]
    new_body: Any
    if isinstance(body, Mapping):
        new_body = CommentedMap()
        for key, value in body.items():
            new_body[key] = LiteralScalarString(command) if key == "command" else value
    else:
        new_body = LiteralScalarString(command)
    new = CommentedMap([("run", new_body)])
    listed[step.position] = new


def _own_list(holder: Any, key: str) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    if not _own(holder, key):
        copy = CommentedSeq(holder[key])
        holder[key] = copy
    return holder[key]


def pin_job(
    data: Any, job: str, environment: list[tuple[str, str]], revision_step: Any | None
) -> str:
    """The triggered job: its environment gets the parameters, and after `checkout` (or
    first, when it has none but uses the source) the revision step. Says what it did."""
    from ruamel.yaml.comments import CommentedMap

    body = data["jobs"][job]
    existing = body.get("environment")
    target: Any
    own_keys = [key for key, _ in body.non_merged_items()]
    if _own(body, "environment") and isinstance(existing, Mapping):
        target = existing
    else:
        target = CommentedMap()
        for item in existing if isinstance(existing, list) else [existing]:
            if isinstance(item, Mapping):
                target.update(item)
        if "environment" in own_keys:
            said = _comment_after(body, "environment")
            body["environment"] = target
            if said:
                body.yaml_add_eol_comment(said, "environment")
        else:
            at = own_keys.index("steps") if "steps" in own_keys else len(own_keys)
            body.insert(at, "environment", target)
    for name, value in environment:
        target[name] = value
    if revision_step is None:
        return "no checkout"
    listed = _own_list(body, "steps")
    checkout = next(
        (
            i
            for i, s in enumerate(listed)
            if s == "checkout" or (isinstance(s, Mapping) and "checkout" in s)
        ),
        None,
    )
    if checkout is None:
        listed.insert(0, "checkout")
        listed.insert(1, revision_step)
        return "first"
    found = listed[checkout]
    options = found.get("checkout") if isinstance(found, Mapping) else None
    path = options.get("path") if isinstance(options, Mapping) else None
    if path is not None:
        revision_step["run"].insert(1, "working_directory", path)
    listed.insert(checkout + 1, revision_step)
    return "after checkout"


def revision_step() -> Any:
    """The step that checks out the pinned revision when one was sent. It reads it from
    $DEPLOY_REVISION (the job's environment holds the parameter): a pipeline parameter
    written into the command would be shell text anyone who triggers a pipeline writes.
    Only hex digits pass, so it is never an option or a ref name. It runs where the
    checkout went (`checkout: {path: ...}`)."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    command = (
        f'if [ -n "${REVISION_ENV}" ]; then\n'
        f'  case "${REVISION_ENV}" in\n'
        f'    *[!0-9a-f]*) echo "{REVISION_ENV} is not a commit SHA" >&2; exit 1 ;;\n'
        "  esac\n"
        f'  git checkout --detach "${REVISION_ENV}"\n'
        "fi\n"
    )
    body = CommentedMap(
        [("name", "Check out the deploy revision"), ("command", LiteralScalarString(command))]
    )
    return CommentedMap([("run", body)])


def gate_workflows(data: Any, default_job: str, triggered: list[str]) -> None:
    """Every workflow runs on a push only (deploy_job ""), merged with its own when/unless;
    each triggered job gets a workflow of its own, run when deploy_job names it."""
    from ruamel.yaml.comments import CommentedMap

    workflows: Any = data.get("workflows")
    if not isinstance(workflows, Mapping):
        workflows = CommentedMap()
        workflows[default_job] = CommentedMap([("jobs", [default_job])])
        data["workflows"] = workflows
    for name in list(workflows):
        body: Any = workflows[name]
        if name == "version" or not _is_map(body):
            continue
        condition: Any = _equal("")
        parts = [condition]
        if "when" in body:
            parts.append(body.pop("when"))
        if "unless" in body:
            parts.append(CommentedMap([("not", body.pop("unless"))]))
        if len(parts) > 1:
            condition = CommentedMap([("and", parts)])
        body.insert(0, "when", condition)
    for job in triggered:
        workflows[job] = CommentedMap([("when", _equal(job)), ("jobs", [job])])
