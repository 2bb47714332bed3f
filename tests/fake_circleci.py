"""A stateful CircleCI on loopback, for tests: a real HTTP server (http.server) that
creates builds and pipelines, lists them, reports their progress, and injects faults.

Answers are shaped like the recorded real responses in tests/data/v1.1-responses (v1.1) and the
v2 OpenAPI document. Faults are scripted per trigger POST:
  "500", "502", "503", "504"       answer that status, create nothing
  "500-after-create"               create the build, then answer 500
  "429:S"                          answer 429 with Retry-After: S, create nothing
  "drop-after-create"              create the build, then close the connection unanswered
  "slow-after-create:S"            create the build, answer after S seconds
  "slow:S"                         create nothing, answer 504 after S seconds
  "400", "401", "404"              a final refusal with CircleCI's message
  "html:S", "message:S", "broken:S" create nothing, answer status S with a login page, a
                                   {"message": ...} or broken JSON (see UNREADABLE)
Lists page as CircleCI's do: v1.1 by `limit` and `offset`, v2 by `next_page_token` in the
answer and `page-token` in the next request, 20 pipelines a page.
Lookups (the branch's list of builds or pipelines) take `lookup_faults` the same way:
  "html", "message", "broken"      answer 200 with that instead of the list
  ""                               answer the list
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from tests.conftest import CREATED, SHA, recorded

MESSAGES = {
    400: "Unexpected argument(s): branchh",
    401: "You must log in first.",
    404: "Not Found",
    500: "An internal server error occurred.",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


SHORT_VCS = {"github": "gh", "bitbucket": "bb"}
V2_PAGE = 20  # pipelines in one page of a v2 list; v1.1 pages by `limit` and `offset`


class Raw(NamedTuple):
    """A body sent as is, not as JSON."""

    text: str
    content_type: str


LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head><title>Log in - CircleCI</title></head>\n'
    '<body><div id="app">Redirecting you to the login page</div></body></html>\n'
)
UNREADABLE: dict[str, Any] = {
    "html": Raw(LOGIN_PAGE, "text/html; charset=utf-8"),
    "message": {"message": "Project not found"},
    "broken": Raw('[{"build_num": 3925, "lifecycle": "fin', "application/json"),
}


class Seen(NamedTuple):
    method: str
    path: str  # raw, percent-encoded as sent
    body: Any
    headers: dict[str, str]


class FakeCircleCI:
    def __init__(self) -> None:
        exchange = recorded(CREATED)["http_interactions"][0]["response"]
        self.build_template = json.loads(exchange["body"]["string"])
        self.created_headers = {
            name: values[0]
            for name, values in exchange["headers"].items()
            if name not in ("Content-Length", "Connection", "Location")
        }
        self.lock = threading.Lock()
        self.requests: list[Seen] = []
        self.builds: list[dict[str, Any]] = []  # v1.1, oldest first
        self.pipelines: list[dict[str, Any]] = []  # v2, oldest first
        self.faults: list[str] = []  # consumed by trigger POSTs, in order
        self.lookup_faults: list[str] = []  # consumed by lookups (the branch's list), in order
        self.build_states: list[tuple[str, str | None]] = []  # (lifecycle, outcome) per GET
        self.workflow_states: list[list[str]] = []  # workflow statuses per GET
        self.parallel_runs: list[list[str]] = []  # status per node index, per GET
        self.head = SHA  # the branch head a v2 pipeline runs at
        self.extra_headers: dict[str, str] = {}
        self.echo_parameters = False  # report posted parameters in trigger_parameters
        self.default_branch = "main"  # where a pipeline posted without a ref runs
        self.now = "2026-11-22T10:00:00Z"  # created_at of the pipelines made from now on
        self.workflow_names: dict[str, list[str]] = {}  # pipeline id -> its workflows
        self.workflow_read_status: int | None = None  # answer workflow reads with this
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeCircleCI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def posts(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.method == "POST"]

    # --- the API ---------------------------------------------------------------------

    def _create_build(self, path: list[str], body: dict[str, Any]) -> dict[str, Any]:
        vcs, org, repo = path[4:7]
        number = 3925 + len(self.builds)
        build = copy.deepcopy(self.build_template)
        build.update(
            build_num=number,
            build_url=f"https://circleci.com/{SHORT_VCS[vcs]}/{org}/{repo}/{number}",
            build_parameters=body.get("build_parameters"),
            vcs_revision=body.get("revision"),
            branch=unquote(path[8]) if len(path) > 8 else None,
            vcs_tag=body.get("tag"),
            lifecycle="queued",
            outcome=None,
        )
        self.builds.append(build)
        return build

    def _create_pipeline(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        ref = body.get("checkout") or body
        if "branch" not in ref and "tag" not in ref:  # no ref: the project's default branch
            ref = {"branch": self.default_branch}
        pipeline = {
            "id": str(uuid.uuid4()),
            "errors": [],
            "project_slug": slug,
            "number": 700 + len(self.pipelines),
            "state": "created",
            "created_at": self.now,
            "updated_at": self.now,
            "trigger": {"type": "api", "received_at": "2026-11-22T10:00:00Z", "actor": {}},
            # What CircleCI is seen to report: its own trigger data, not the parameters
            # an API trigger posted (unless a test asks for them, as an extra signal)
            "trigger_parameters": {
                "circleci": {"event_type": "api", "trigger_type": "api"},
                "git": {"branch": ref.get("branch"), "checkout_sha": self.head},
                **(body.get("parameters", {}) if self.echo_parameters else {}),
            },
            "vcs": {
                "provider_name": "GitHub",
                "revision": self.head,
                **({"branch": ref["branch"]} if "branch" in ref else {"tag": ref.get("tag")}),
            },
        }
        self.pipelines.append(pipeline)
        # the config pattern the gate documents: the workflow named for deploy_job runs
        job = body.get("parameters", {}).get("deploy_job")
        self.workflow_names[pipeline["id"]] = [job] if job else ["build"]
        return pipeline

    def answer(self, method: str, raw: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(raw)
        path = split.path.split("/")  # ['', 'api', 'v1.1', 'project', vcs, org, repo, ...]
        query = parse_qs(split.query)
        if path[2] == "v1.1":
            return self._v1(method, path, query, body)
        return self._v2(method, path, query, body)

    def _v1(
        self, method: str, path: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "POST":
            build = self._create_build(path, body)
            return 201, build, {**self.created_headers, "Location": build["build_url"]}
        if len(path) == 8 and path[7].isdigit():  # /api/v1.1/project/vcs/org/repo/N
            build = next(b for b in self.builds if b["build_num"] == int(path[7]))
            state = self._next(self.build_states)
            if state is not None:
                build.update(lifecycle=state[0], outcome=state[1])
            return 200, build, {}
        branch = unquote(path[8]) if len(path) > 8 else None
        limit = int(query.get("limit", ["30"])[0])
        listed = [b for b in reversed(self.builds) if branch is None or b["branch"] == branch]
        fault = self.lookup_faults.pop(0) if self.lookup_faults else ""
        if fault:
            return 200, UNREADABLE[fault], {}
        offset = int(query.get("offset", ["0"])[0])
        return 200, listed[offset : offset + limit], {}

    def _v2(
        self, method: str, path: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if path[3] == "pipeline":  # /api/v2/pipeline/{id}[/workflow]
            pipeline = next((p for p in self.pipelines if p["id"] == path[4]), None)
            if pipeline is None:
                return 404, {"message": "Pipeline not found"}, {}
            if len(path) == 5:
                return 200, pipeline, {}
            if self.workflow_read_status is not None:
                status = self.workflow_read_status
                return status, {"message": MESSAGES.get(status, "error")}, {}
            names = self.workflow_names.get(pipeline["id"], ["build"])
            scripted = self._next(self.workflow_states)  # [] is a pipeline with none yet
            statuses = ["running"] * len(names) if scripted is None else scripted
            items = [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{pipeline['id']}/{i}")),
                    "name": names[i] if i < len(names) else f"{names[0]}-{i}",
                    "status": status,
                    "pipeline_id": pipeline["id"],
                    "pipeline_number": pipeline["number"],
                    "project_slug": pipeline["project_slug"],
                    "created_at": "2026-11-22T10:00:01Z",
                    "stopped_at": None,
                    "started_by": str(uuid.UUID(int=0)),
                }
                for i, status in enumerate(statuses)
            ]
            return 200, {"items": items, "next_page_token": None}, {}
        slug = "/".join(unquote(part) for part in path[4:7])
        if path[7] == "job":
            runs = self._next(self.parallel_runs) or []
            job = {
                "number": int(path[8]),
                "name": "build",
                "status": "running",
                "parallelism": len(runs),
                "parallel_runs": [{"index": i, "status": s} for i, s in enumerate(runs)],
                "project": {"slug": slug},
            }
            return 200, job, {}
        if method == "POST":
            pipeline = self._create_pipeline(slug, body)
            created = {k: pipeline[k] for k in ("id", "state", "number", "created_at")}
            return 201, created, {}
        branch = query.get("branch", [None])[0]
        items = [
            p
            for p in reversed(self.pipelines)
            if p["project_slug"] == slug and (branch is None or p["vcs"].get("branch") == branch)
        ]
        fault = self.lookup_faults.pop(0) if self.lookup_faults else ""
        if fault:
            return 200, UNREADABLE[fault], {}
        # a page token is the offset it starts at, as text only the fake reads
        start = int(query.get("page-token", ["0"])[0])
        more = len(items) > start + V2_PAGE
        token = str(start + V2_PAGE) if more else None
        return 200, {"items": items[start : start + V2_PAGE], "next_page_token": token}, {}

    @staticmethod
    def _next(script: list[Any]) -> Any:
        """Each read takes the next scripted state; the last one stays."""
        if not script:
            return None
        return script.pop(0) if len(script) > 1 else script[0]

    # --- HTTP ------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with fake.lock:
                    fake.requests.append(Seen(method, self.path, body, dict(self.headers)))
                    fault = fake.faults.pop(0) if method == "POST" and fake.faults else ""
                    kind, _, value = fault.partition(":")
                    if kind == "slow":
                        status, payload, headers = 504, {"message": MESSAGES[504]}, {}
                    elif kind in UNREADABLE:
                        status, payload, headers = int(value), UNREADABLE[kind], {}
                    elif kind.isdigit():
                        status = int(kind)
                        payload: Any = {"message": MESSAGES.get(status, "error")}
                        headers = {"Retry-After": value} if value else {}
                    else:
                        status, payload, headers = fake.answer(method, self.path, body)
                if kind == "drop-after-create":
                    self.close_connection = True
                    return
                if kind in ("slow", "slow-after-create"):
                    time.sleep(float(value))
                if kind == "500-after-create":
                    status, payload = 500, {"message": MESSAGES[500]}
                self._send(status, payload, {**fake.extra_headers, **headers})

            def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
                raw = isinstance(payload, Raw)
                data = payload.text.encode() if raw else json.dumps(payload).encode()
                kind = payload.content_type if raw else "application/json;charset=utf-8"
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a read timeout): nothing to tell it

        return Handler


def serve() -> Iterator[FakeCircleCI]:
    fake = FakeCircleCI().start()
    try:
        yield fake
    finally:
        fake.stop()
