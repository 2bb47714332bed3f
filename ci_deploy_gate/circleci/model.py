"""The CircleCI client's values: the trigger, what it made, and one HTTP exchange.

A dry-run prints the same `TriggerRequest` a real run sends, headers included, so the two
cannot drift. This is the bottom of the package: it imports nothing from it, so every
other module can share these types without a cycle.
"""

from __future__ import annotations

from ci_deploy_gate import __version__
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV, MASK
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False  # not `from typing`: typing alone costs more than this module
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

USER_AGENT = f"ci-deploy-gate/{__version__}"
TOKEN_HEADER = "Circle-Token"  # the spec's security scheme; never a URL parameter
# Every request's headers; the token's value is the mask until the client sends it.
# v1.1 answers EDN unless asked for JSON; v2 ignores a body without Content-Type.
HEADERS = (
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
    ("User-Agent", USER_AGENT),
    (TOKEN_HEADER, MASK),
)


class Target(NamedTuple):
    """Where one request runs what, for which rules: the matched triggers of the rules file
    with their templates filled in, those going to one place merged (`targets.plan`)."""

    rules: tuple[str, ...]  # every rule it serves, in file order
    job: str | None  # None: a pipeline with no job parameter
    project: str | None  # another project's slug; None: this build's
    branch: str | None  # None with no tag: the project's default branch
    tag: str | None
    revision: str | None  # CIRCLE_SHA1 when pinned
    parameters: tuple[tuple[str, Any], ...]
    token_env: str | None  # None: circleci.token_env


class TriggerRequest(NamedTuple):
    """One job or pipeline to fire: the POST, and where to look for what it already made."""

    rule: str  # the first of `rules`
    job: str | None
    revision: str | None  # None: unpinned
    branch: str | None
    tag: str | None
    api: str  # a name in versions.VERSIONS
    method: str
    url: str
    body: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...]  # all that is sent; the token shown as the mask
    lookup_url: str  # recent builds (v1.1) or pipelines (v2) of the branch or project
    base: str  # v1.1: the project's URL; v2: the API root, {host}/api/v2
    slug: str  # gh/ORG/REPO, bb/ORG/REPO or circleci/ORG-ID/PROJECT-ID
    rules: tuple[str, ...] = ()  # every rule it serves, in file order
    token_env: str = DEFAULT_TOKEN_ENV  # the variable of the token that sends it
    # this build's pipeline (None without CIRCLE_PIPELINE_ID). Unpinned, a pipeline made
    # through the API since its creation counts as this trigger's (the lookup cannot match
    # a revision); v2 pages back through the branch's pipelines until past it
    since_url: str | None = None

    @property
    def label(self) -> str:
        """What it fires, for people: the job, or a pipeline of another project."""
        return self.job or f"pipeline of {self.slug}"

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "body": dict(self.body)}


class Route(NamedTuple):
    """Where one API sends a trigger, and where it looks for what a trigger made."""

    url: str
    body: Mapping[str, Any]
    lookup_url: str
    base: str
    slug: str


class Fired(NamedTuple):
    """A build (v1.1) or pipeline (v2) for the job at the revision, however it was found."""

    api: str
    kind: str  # "build" or "pipeline": the version's KIND, which names the report's fields
    number: int | None  # build_num or pipeline number
    url: str | None
    status: int | None = None  # the trigger's HTTP status; None when nothing was sent
    id: str | None = None  # v2 pipeline id
    state: str | None = None  # v1.1 lifecycle or v2 pipeline state, when triggered
    # fired, already-triggered or recovered (answer lost, build found); a lookup's
    # failed-before: an earlier deploy that failed or was cancelled, which does not count
    how: str = "fired"
    deprecation: str | None = None  # CircleCI's Sunset/Deprecation headers, said aloud
    warnings: tuple[str, ...] = ()
    result: str | None = None  # --wait: success, failed, canceled, timed out...
    looked: tuple[int, int] | None = None  # the lookup's pages and entries read

    @property
    def label(self) -> str:
        return f"{self.kind} #{self.number}" if self.number is not None else self.kind

    def as_json(self) -> dict[str, Any]:
        build = self.kind == "build"
        return {
            "api": self.api,
            "how": self.how,
            "status": self.status,
            "build_num": self.number if build else None,
            "build_url": self.url if build else None,
            "lifecycle": self.state if build else None,
            "pipeline_number": None if build else self.number,
            "pipeline_id": self.id,
            "pipeline_url": None if build else self.url,
            "state": self.state,
            "deprecation": self.deprecation,
            "warnings": list(self.warnings),
            "result": self.result,
            "lookup": None
            if self.looked is None
            else {"pages": self.looked[0], "entries": self.looked[1]},
        }


FAILED_BEFORE = "failed-before"


class Progress(NamedTuple):
    """Where a fired build or pipeline is: `done` once it cannot change, `ok` if it passed."""

    state: str
    done: bool
    ok: bool


class Request(NamedTuple):
    """One HTTP request as the client sends it; the token header still masked."""

    method: str
    url: str
    body: Mapping[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = HEADERS


class Answer(NamedTuple):
    """What CircleCI answered: the body as text and, when it is JSON, parsed."""

    status: int
    reason: str
    headers: Mapping[str, str]
    payload: object  # the JSON body, or None
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Lost(NamedTuple):
    """No answer. `sent` False: the connection never opened, so CircleCI saw nothing."""

    sent: bool
    cause: str


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
