"""`circleci.versions` is the one table of API versions, and the only place that picks one.

The protocol exists for the type checker only, so these tests read its members from the
source: every module in the table must provide them, with the same parameters. A version
added to the table at test time is then used by the trigger, the firing and `--wait`
alike, which is what "no other dispatch" means.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from ci_deploy_gate.circleci import v1, versions
from ci_deploy_gate.circleci.fire import fire
from ci_deploy_gate.circleci.follow import follow
from ci_deploy_gate.circleci.model import HEADERS
from ci_deploy_gate.context import build_context
from ci_deploy_gate.evaluate import Fire
from ci_deploy_gate.model import CircleCISettings, Trigger
from ci_deploy_gate.rules import CIRCLECI
from ci_deploy_gate.targets import build_trigger, plan
from tests.conftest import ROOT, FakeTime, circle_env
from tests.fake_circleci import FakeCircleCI
from tests.test_fire import client, request

PACKAGE = ROOT / "ci_deploy_gate" / "circleci"


def protocol_members() -> dict[str, list[str] | None]:
    """ApiVersion's members: a function's parameter names (self left out), None for a value."""
    tree = ast.parse((PACKAGE / "versions.py").read_text(encoding="utf-8"))
    (protocol,) = (
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == "ApiVersion"
    )
    members: dict[str, list[str] | None] = {}
    for item in protocol.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members[item.target.id] = None
        elif isinstance(item, ast.FunctionDef):
            members[item.name] = [arg.arg for arg in item.args.args[1:]]
    return members


def test_the_protocol_names_what_the_callers_use() -> None:
    assert protocol_members() == {
        "API": None,
        "KIND": None,
        "INTERNAL_ERROR_HINT": None,
        "GONE_HINT": None,
        "route": ["api_url", "context", "target", "settings"],
        "found": ["client", "answer", "request", "how", "settings"],
        "listed": ["answer"],
        "next_page": ["client", "request", "answer", "listed"],
        "created": ["answer", "request"],
        "confirm": ["client", "request", "fired"],
        "progress_url": ["request", "fired"],
        "progress": ["answer"],
    }


@pytest.mark.parametrize("name", sorted(versions.VERSIONS))
def test_every_version_in_the_table_provides_the_protocol(name: str) -> None:
    module = versions.api(name)
    assert module.__name__ == versions.VERSIONS[name]
    for member, parameters in protocol_members().items():
        assert hasattr(module, member), f"{module.__name__} has no {member}"
        if parameters is not None:
            found = list(inspect.signature(getattr(module, member)).parameters)
            assert found == parameters, f"{module.__name__}.{member}"
    assert name == module.API
    assert module.KIND in ("build", "pipeline")


def test_the_rules_file_accepts_exactly_the_table() -> None:
    assert tuple(versions.VERSIONS) == CIRCLECI.key("api").kind.values  # type: ignore[attr-defined]
    assert CircleCISettings().api == versions.DEFAULT_API == "v2"


def test_an_unknown_name_is_not_quietly_another_version() -> None:
    with pytest.raises(KeyError):
        versions.api("v3")


@pytest.mark.parametrize("name", sorted(versions.VERSIONS))
def test_build_trigger_gives_each_versions_route(name: str) -> None:
    settings = CircleCISettings(api=name)
    context = build_context(circle_env())
    trigger = Trigger("deploy_docker", (("DEPLOY_ENV", "prod"),))
    (target,) = plan([Fire("production", trigger)], context, settings)
    route = versions.api(name).route("https://circleci.com", context, target, settings)
    built = build_trigger(
        api_url="https://circleci.com",
        context=context,
        rule="production",
        trigger=trigger,
        settings=settings,
    )
    assert built.api == name
    assert (built.url, built.body, built.lookup_url, built.base, built.slug) == route
    assert (built.method, built.headers) == ("POST", HEADERS)


def test_importing_the_table_costs_nothing() -> None:
    script = (
        "import sys\nimport ci_deploy_gate.circleci.versions\n"
        "print(sorted(m for m in sys.modules if m.startswith('ci_deploy_gate') or m == 'typing'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.splitlines()[-1] == str(
        ["ci_deploy_gate", "ci_deploy_gate.circleci", "ci_deploy_gate.circleci.versions"]
    ), done.stderr


# --- the table is the only dispatch --------------------------------------------------


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A version `spy` in the table: v1.1's behaviour, noting each member the gate asks for."""
    calls: list[str] = []
    module = ModuleType("tests.spy_version")

    def noted(member: str) -> Any:
        def call(*args: Any) -> Any:
            calls.append(member)
            return getattr(v1, member)(*args)

        return call

    for member, parameters in protocol_members().items():
        value = getattr(v1, member) if parameters is None else noted(member)
        setattr(module, member, value)
    module.API = "spy"
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(versions.VERSIONS, "spy", module.__name__)
    return calls


def test_trigger_fire_and_follow_ask_the_table(
    spy: list[str], fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    settings = CircleCISettings(api="spy")
    target = request(fake.url, settings)
    assert (target.api, spy) == ("spy", ["route"])
    gate = client(fake_time)
    fake.build_states = [("finished", "success")]
    fired = fire(gate, target, settings, force=False)
    followed = follow(gate, target, fired, timeout=60, show=lambda line: None)
    assert spy == [
        "route",
        "found",
        "listed",
        "next_page",
        "created",
        "confirm",
        "progress_url",
        "progress",
    ]
    assert (fired.api, fired.how, followed.result) == ("v1.1", "fired", "success")


# --- layers ---------------------------------------------------------------------------


def test_model_and_the_table_are_the_bottom_of_the_package() -> None:
    """The whole package's import graph is checked in tests/test_imports.py."""
    from tests.test_imports import graph

    edges = graph()
    assert edges["ci_deploy_gate.circleci.versions"] == set()  # it names modules, as text
    assert {name for name in edges["ci_deploy_gate.circleci.model"] if "circleci" in name} == set()
