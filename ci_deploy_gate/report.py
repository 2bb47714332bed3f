"""What a run tells: the JSON report (stable, documented in the README) and the human text.

Every byte written goes through `Output`, which redacts the token. Kept free of heavy
imports: the node-1 skip uses it too.
"""

from __future__ import annotations

import os
import sys

from ci_deploy_gate.credentials import Redactor

TYPE_CHECKING = False  # not `from typing`: the node-1 skip imports this module
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from ci_deploy_gate.circleci.model import Fired, TriggerRequest
    from ci_deploy_gate.evaluate import Decision
    from ci_deploy_gate.node import Node
    from ci_deploy_gate.steps import Step

    Record = tuple[TriggerRequest, "Fired | None"]


def document(
    *,
    decision: str,
    reason: str,
    node: Node | None,
    outcome: Decision | None = None,
    records: Sequence[Record] = (),
    sources: Mapping[str, str] | None = None,
    commands: Sequence[Step] | None = None,
) -> dict[str, Any]:
    """The JSON report. `decision`: triggered, already-triggered, dry-run, skipped, failed
    or error; for `run`, ran or command-failed. `commands`: `run`'s, which the gate's own
    report does not have."""
    doc: dict[str, Any] = {
        "decision": decision,
        "reason": reason,
        "node": node.as_json() if node else None,
        "sources": dict(sources or {}),
        "rule": outcome.rule if outcome else None,
        "rules": [
            {
                "name": result.name,
                "matched": result.matched,
                "evaluated": result.evaluated,
                "conditions": [
                    {
                        "condition": atom.condition,
                        "result": atom.result,
                        "actual": atom.actual,
                        "needed": atom.needed,
                    }
                    for atom in result.conditions
                ],
            }
            for result in (outcome.results if outcome else ())
        ],
        "triggers": [
            {
                "rule": request.rule,
                "rules": list(request.rules or (request.rule,)),
                "job": request.job,
                "api": request.api,
                "revision": request.revision,
                "branch": request.branch,
                "tag": request.tag,
                "request": request.as_json(),
                "response": response.as_json() if response else None,
            }
            for request, response in records
        ],
    }
    if commands is not None:
        doc["commands"] = [step.as_json() for step in commands]
    return doc


LOCAL = "local checkout: "  # the prefix of what a local dry-run derived from git


def _shown(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value["text"]) if "text" in value else _shown_list(value)
    if isinstance(value, str) and ("\n" in value.strip() or len(value) > 72):
        first = value.strip().splitlines()[0] if value.strip() else ""
        return repr(first[:72]) + " ..."  # a commit message: its subject line
    return repr(value)


def _shown_list(value: dict[str, Any]) -> str:
    """A `changed` or `messages` condition: how many, and the ones that decided it."""
    if "paths" in value:
        key = "outside" if "outside" in value else "matching"
        examples = value[key]
        more = "..." if len(examples) >= 10 else ""
        named = f", {key} {', '.join(examples)}{more}" if examples else f", none {key}"
        return f"{value['paths']} paths since {value['base'][:12]} ({value['how']}){named}"
    hits = ", ".join(repr(subject) for subject in value["matching"])
    count = f"{value['commits']} commit{'' if value['commits'] == 1 else 's'}"
    return count + (f", matching {hits}" if hits else ", none matching")


def human(
    *,
    decision: str,
    reason: str,
    outcome: Decision | None = None,
    records: Sequence[Record] = (),
    dry_run: bool = False,
    sources: Mapping[str, str] | None = None,
    commands: Sequence[Step] = (),
) -> str:
    """A short account: the verdict, where the facts came from when not from CircleCI,
    each rule's conditions, what was (or would be) sent or run."""
    lines = [f"{decision}: {reason}"]
    local = [
        f"{fact}: {where[len(LOCAL) :].rsplit(' (', 1)[0]}"
        for fact, where in (sources or {}).items()
        if where.startswith(LOCAL)
    ]
    if local:
        lines.append(f"  facts from the local checkout: {'; '.join(local)}")
    for result in outcome.results if outcome else ():
        if not result.evaluated:  # `match: first` decided before it: nothing to show
            lines.append(f"  rule {result.name}: not evaluated")
            continue
        lines.append(f"  rule {result.name}: {'matched' if result.matched else 'no match'}")
        for atom in result.conditions:
            if not atom.needed:
                lines.append(f"    [-] {atom.condition}  (not needed)")
                continue
            mark = "x" if atom.result else " "
            lines.append(f"    [{mark}] {atom.condition}  ({atom.field}: {_shown(atom.actual)})")
    for request, response in records:
        rules = request.rules or (request.rule,)
        served = f"rule {rules[0]}" if len(rules) == 1 else f"rules {', '.join(rules)}"
        pinned = f"at {request.revision}" if request.revision else f"on {request.slug}, unpinned"
        lines.append(f"  {request.label} ({served}) {pinned}:")
        if dry_run:
            import json

            lines.append(f"    {request.method} {request.url}")
            lines.extend(f"    {name}: {value}" for name, value in request.headers)
            lines.append(f"    {json.dumps(dict(request.body), sort_keys=True)}")
        elif response is not None:
            lines.extend(f"    {line}" for line in _fired(response))
        else:
            lines.append(f"    not fired ({request.method} {request.url})")
    for step in commands:
        if step.how is None:  # a dry-run: what it would get, over the environment
            lines.append(f"  {step.shown} (rule {step.rule}), with:")
            lines.extend(f"    {name}={value}" for name, value in step.variables)
        else:
            lines.append(f"  {step.shown} (rule {step.rule}): {step.how} after {step.seconds}s")
    return "\n".join(lines)


def _fired(fired: Fired) -> list[str]:
    where = f"{fired.label} {fired.url or ''}".rstrip()
    lines = {
        "already-triggered": [f"already triggered: {where}"],
        "recovered": [f"{where} (CircleCI's answer was lost; found by looking it up)"],
    }.get(fired.how, [where])
    if fired.id:
        lines.append(f"pipeline id {fired.id}")
    if fired.result:
        lines.append(f"result: {fired.result}")
    lines.extend(
        f"warning: {warning}" for warning in (fired.deprecation, *fired.warnings) if warning
    )
    return lines


def conclude(
    output: Output,
    *,
    decision: str,
    reason: str,
    node: Node,
    outcome: Decision | None = None,
    records: Sequence[Record] = (),
    sources: Mapping[str, str] | None = None,
    commands: Sequence[Step] | None = None,
) -> str | None:
    """Report a run that ended without error, as JSON and as text from the same facts.

    Returns a problem with --report's file, or None."""
    doc = document(
        decision=decision,
        reason=reason,
        node=node,
        outcome=outcome,
        records=records,
        sources=sources,
        commands=commands,
    )
    text = human(
        decision=decision,
        reason=reason,
        outcome=outcome,
        records=records,
        dry_run=decision == "dry-run",
        sources=sources,
        commands=commands or (),
    )
    return output.finish(doc, text)


class Output:
    """Results to stdout, everything else to stderr; `--json` keeps stdout to one document."""

    def __init__(self, *, as_json: bool, report_path: str | None, secrets: Sequence[str]) -> None:
        self.as_json = as_json
        self.report_path = report_path
        self.secrets = list(secrets)

        self._live: Any = None  # the terminal holding an unfinished progress line
        self._redactor: tuple[tuple[str, ...], Redactor] | None = None

    @property
    def redactor(self) -> Redactor:
        """For the secrets known now: `secrets` grows as the rules name more tokens."""
        known = tuple(self.secrets)
        if self._redactor is None or self._redactor[0] != known:
            self._redactor = (known, Redactor(known))
        return self._redactor[1]

    def _write(self, stream: Any, text: str) -> None:
        self._end_live()
        stream.write(self.redactor.text(text) + "\n")
        stream.flush()

    def _end_live(self) -> None:
        if self._live is not None:
            self._live.write("\n")
            self._live = None

    def progress(self, text: str) -> None:
        """State changes while waiting: one live line on a terminal, plain lines in logs."""
        stream = sys.stderr if self.as_json else sys.stdout
        if not stream.isatty():
            self._write(stream, text)
            return
        stream.write("\r\033[K" + self.redactor.text(text))
        stream.flush()
        self._live = stream

    def note(self, text: str) -> None:
        """Logs, warnings and errors: never on stdout, which --json keeps for the document."""
        self._write(sys.stderr, text)

    def finish(self, doc: dict[str, Any], text: str) -> str | None:
        """Write the report; returns a problem with --report's file, or None."""
        if not (self.as_json or self.report_path):
            if text:  # no JSON wanted: json is not even imported
                self._write(sys.stdout, text)
            return None
        import json

        # By structure, not on the serialized text: a short secret replaced inside the
        # JSON could break its syntax, and an escaped form would be missed.
        rendered = json.dumps(self.redactor.value(doc), indent=2)
        problem = None
        if self.report_path:
            try:
                folder = os.path.dirname(self.report_path)
                if folder:
                    os.makedirs(folder, exist_ok=True)
                with open(self.report_path, "w", encoding="utf-8") as handle:
                    handle.write(rendered + "\n")
            except OSError as exc:
                cause = f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc)
                problem = f"--report {self.report_path}: cannot write the report: {cause}"
        if self.as_json:
            self._end_live()
            sys.stdout.write(rendered + "\n")  # redacted above, by structure
            sys.stdout.flush()
            if text:
                self.note(text)
        elif text:
            self._write(sys.stdout, text)
        return problem
