"""The one table of CircleCI API versions: which names `circleci.api` accepts, and the
module that speaks each one.

Every difference between the versions is an attribute of its module (`ApiVersion`), never
an `if` on the name. This module imports nothing: the rules-file validator reads the
table on every run, and a version's module is imported only when it is asked for.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing`: importing typing is what this module avoids
if TYPE_CHECKING:
    from typing import Any, Protocol

    from ci_deploy_gate.circleci.model import (
        Answer,
        Fired,
        Progress,
        Route,
        Target,
        TriggerRequest,
    )
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.model import CircleCISettings

    class ApiVersion(Protocol):
        """What each version's module provides; tests/test_versions.py holds every one to it."""

        API: str  # its name in VERSIONS, the report's `api`
        KIND: str  # what one trigger makes: "build" or "pipeline"
        # CircleCI answers a bare 500 "internal server error" for some known cause
        INTERNAL_ERROR_HINT: str | None
        GONE_HINT: str | None  # what a 410 means there

        def route(
            self, api_url: str, context: Context, target: Target, settings: CircleCISettings
        ) -> Route:
            """Where the trigger goes, with what body, and where to look for what it made."""

        def found(
            self,
            client: Client,
            answer: Answer,
            request: TriggerRequest,
            how: str,
            settings: CircleCISettings,
        ) -> tuple[Fired, ...]:
            """What in a lookup answer already runs this job at this revision, newest first
            (reading more through `client` where one answer cannot tell); ApiError when the
            answer is not the shape the version lists them in: the gate cannot tell."""

        def listed(self, answer: Answer) -> list[Any]:
            """The entries of a lookup answer `found` has read."""

        def next_page(
            self, client: Client, request: TriggerRequest, answer: Answer, listed: list[Any]
        ) -> str | None:
            """The lookup's next page, or None once `listed` (every entry read so far, this
            answer's last) reaches past this build's pipeline or the list ends."""

        def created(self, answer: Answer, request: TriggerRequest) -> Fired:
            """The build or pipeline a 2xx answer to the trigger describes; ApiError when it
            describes none the gate can read."""

        def confirm(self, client: Client, request: TriggerRequest, fired: Fired) -> Fired:
            """`fired`, with warnings about what it really runs when the API can tell."""

        def progress_url(self, request: TriggerRequest, fired: Fired) -> str:
            """What `--wait` polls."""

        def progress(self, answer: Answer) -> Progress:
            """Where the build or pipeline is, from an answer of `progress_url`."""


VERSIONS = {
    "v1.1": "ci_deploy_gate.circleci.v1",
    "v2": "ci_deploy_gate.circleci.v2",
}
DEFAULT_API = "v2"
# CircleCI's changelog, "Deprecation of v1 and v1.1 Trigger and Rerun APIs": after this
# day the v1.1 trigger endpoints answer 410 Gone, on Cloud and Server alike.
V1_REMOVAL = "1 February 2027"
MIGRATE = "python -m ci_deploy_gate migrate"
V1_WARNING = (
    f"circleci.api: v1.1: CircleCI removes the v1.1 trigger on {V1_REMOVAL} (410 Gone "
    f"after); run `{MIGRATE}` to move this config to pipeline triggers (API v2)"
)


def api(name: str) -> ApiVersion:
    """The module for `name`, imported now; KeyError for a name not in VERSIONS."""
    from importlib import import_module

    return import_module(VERSIONS[name])


if TYPE_CHECKING:  # mypy holds each module in the table to the protocol
    from ci_deploy_gate.circleci import v1, v2

    _V1: ApiVersion = v1
    _V2: ApiVersion = v2
