"""Deploy windows and change freezes, on a clock frozen with freezegun."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from ci_deploy_gate.cli import main
from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.rules import parse_rules
from tests.conftest import circle_env, run_gate, write
from tests.gitrepo import Repo


def window_rules(
    zone: str = "Europe/Berlin", days: str = "mon-thu", hours: str = "09:00-16:30"
) -> str:
    return f"""\
windows:
  office-hours:
    timezone: {zone}
    days: {days}
    hours: "{hours}"
rules:
  - name: production
    if: within office-hours
    trigger: deploy_docker
"""


def run_at(tmp_path: Path, rules: str, clock: str, *args: str, **env: str | None) -> dict[str, Any]:
    """The JSON report of a dry-run with the clock frozen at `clock` (UTC unless it says)."""
    path = write(tmp_path / "gate.yml", rules)
    report = tmp_path / "report.json"
    with freeze_time(clock):
        code = main(
            ["--rules", str(path), "--dry-run", "--report", str(report), *args], circle_env(**env)
        )
    assert code == 0
    return dict(json.loads(report.read_text()))


def condition(doc: dict[str, Any], rule: int = 0, index: int = 0) -> tuple[bool, str]:
    found = doc["rules"][rule]["conditions"][index]
    return found["result"], found["actual"]["text"]


# Berlin is UTC+1 in winter (CET) and UTC+2 in summer (CEST); 2026-11-19 is a Thursday.
@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        ("2026-11-19 07:59:59", False),  # Thu 08:59:59 Berlin
        ("2026-11-19 08:00:00", True),  # Thu 09:00 Berlin: the start is in
        ("2026-11-19 15:29:59", True),  # Thu 16:29:59
        ("2026-11-19 15:30:00", False),  # Thu 16:30: the end is out
        ("2026-11-20 10:00:00", False),  # Friday
        ("2026-11-16 08:00:00", True),  # Monday 09:00
    ],
)
def test_window_edges_are_half_open(tmp_path: Path, clock: str, expected: bool) -> None:
    assert condition(run_at(tmp_path, window_rules(), clock))[0] is expected


def test_a_closed_window_says_when_it_next_opens(tmp_path: Path) -> None:
    doc = run_at(tmp_path, window_rules(), "2026-11-20 16:00:00")  # Fri 17:00 Berlin
    assert doc["decision"] == "skipped"
    assert condition(doc) == (
        False,
        "closed, opens Mon 2026-11-23 09:00 Europe/Berlin, in 2d 16h",
    )
    assert doc["sources"]["now"] == "the clock: 2026-11-20T16:00:00+00:00"


def test_an_open_window_says_when_it_closes(tmp_path: Path) -> None:
    doc = run_at(tmp_path, window_rules(), "2026-11-19 14:00:00")
    assert condition(doc) == (True, "open, closes Thu 2026-11-19 16:30 Europe/Berlin, in 1h 30m")


def test_now_flag_wins_over_the_clock(tmp_path: Path) -> None:
    doc = run_at(tmp_path, window_rules(), "2026-11-20 16:00:00", "--now", "2026-11-19T09:30+01:00")
    assert condition(doc)[0] is True
    assert doc["sources"]["now"] == "--now: 2026-11-19T09:30:00+01:00"


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        ("2026-11-20 20:59:59", False),  # Fri 21:59:59 Berlin
        ("2026-11-20 21:00:00", True),  # Fri 22:00
        ("2026-11-21 00:30:00", True),  # Sat 01:30: still Friday's window
        ("2026-11-21 01:00:00", False),  # Sat 02:00: the end
        ("2026-11-21 22:00:00", False),  # Sat 23:00: Saturday has no window
        ("2026-11-20 00:30:00", False),  # Fri 01:30: Thursday has no window
    ],
)
def test_an_overnight_window_belongs_to_the_day_it_starts(
    tmp_path: Path, clock: str, expected: bool
) -> None:
    rules = window_rules(days="fri", hours="22:00-02:00")
    assert condition(run_at(tmp_path, rules, clock))[0] is expected


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        ("2026-03-27 08:00:00", True),  # Fri 09:00 CET, before the spring change
        ("2026-03-30 07:00:00", True),  # Mon 09:00 CEST, after it
        ("2026-03-30 06:30:00", False),  # Mon 08:30 CEST (07:30 in CET terms)
        ("2026-10-23 07:00:00", True),  # Fri 09:00 CEST, before the autumn change
        ("2026-10-26 08:00:00", True),  # Mon 09:00 CET, after it
        ("2026-10-26 07:30:00", False),  # Mon 08:30 CET
    ],
)
def test_wall_clock_hours_hold_across_the_berlin_changes_of_2026(
    tmp_path: Path, clock: str, expected: bool
) -> None:
    rules = window_rules(days="mon-sun")
    assert condition(run_at(tmp_path, rules, clock))[0] is expected


def test_next_opening_across_spring_forward_counts_real_time(tmp_path: Path) -> None:
    # Sat 2026-03-28 17:00 CET; the clock skips an hour that night: 15h, not 16h.
    doc = run_at(tmp_path, window_rules(days="mon-sun"), "2026-03-28 16:00:00")
    assert condition(doc)[1] == "closed, opens Sun 2026-03-29 09:00 Europe/Berlin, in 15h"


def test_next_opening_across_fall_back_counts_real_time(tmp_path: Path) -> None:
    # Sat 2026-10-24 17:30 CEST; the clock repeats an hour that night: 16h 30m.
    doc = run_at(tmp_path, window_rules(days="mon-sun"), "2026-10-24 15:30:00")
    assert condition(doc)[1] == "closed, opens Sun 2026-10-25 09:00 Europe/Berlin, in 16h 30m"


def test_a_window_starting_in_the_skipped_hour_opens_at_the_jump(tmp_path: Path) -> None:
    # 2026-03-29: the Berlin clock goes from 01:59:59 CET straight to 03:00 CEST (01:00 UTC).
    rules = window_rules(days="sun", hours="02:30-03:30")
    before = run_at(tmp_path, rules, "2026-03-29 00:59:00")  # 01:59 CET
    assert condition(before) == (False, "closed, opens Sun 2026-03-29 03:00 Europe/Berlin, in 1m")
    assert condition(run_at(tmp_path, rules, "2026-03-29 01:00:00"))[0] is True  # 03:00 CEST
    assert condition(run_at(tmp_path, rules, "2026-03-29 01:30:00"))[0] is False  # 03:30 CEST


def test_a_window_in_the_repeated_hour_is_open_at_both_readings(tmp_path: Path) -> None:
    # 2026-10-25: 02:00-03:00 Berlin happens twice, in CEST (00:00-01:00 UTC), then CET.
    rules = window_rules(days="sun", hours="02:15-02:45")
    assert condition(run_at(tmp_path, rules, "2026-10-25 00:20:00"))[0] is True  # 02:20 CEST
    between = run_at(tmp_path, rules, "2026-10-25 00:50:00")  # 02:50 CEST
    assert condition(between) == (
        False,
        "closed, opens Sun 2026-10-25 02:15 Europe/Berlin, in 25m",
    )
    assert condition(run_at(tmp_path, rules, "2026-10-25 01:20:00"))[0] is True  # 02:20 CET


@pytest.mark.parametrize(
    ("zone", "clock", "expected"),
    [
        # Kiritimati is UTC+14: Monday 09:00 there is Sunday 19:00 UTC.
        ("Pacific/Kiritimati", "2026-11-22 19:00:00", True),
        ("Pacific/Kiritimati", "2026-11-22 18:59:00", False),
        ("Pacific/Kiritimati", "2026-11-26 03:00:00", False),  # Thu 17:00 there: the end
        # Pago Pago is UTC-11, across the date line: Monday 09:00 there is Monday 20:00 UTC.
        ("Pacific/Pago_Pago", "2026-11-23 20:00:00", True),
        ("Pacific/Pago_Pago", "2026-11-23 08:00:00", False),  # Sunday 21:00 there
    ],
)
def test_zones_on_both_sides_of_the_date_line(
    tmp_path: Path, zone: str, clock: str, expected: bool
) -> None:
    rules = window_rules(zone=zone, days="mon-thu", hours="09:00-17:00")
    assert condition(run_at(tmp_path, rules, clock))[0] is expected


def test_the_date_line_next_opening_text(tmp_path: Path) -> None:
    rules = window_rules(zone="Pacific/Kiritimati", days="mon", hours="09:00-17:00")
    doc = run_at(tmp_path, rules, "2026-11-22 18:00:00")  # Mon 08:00 in Kiritimati
    assert condition(doc)[1] == "closed, opens Mon 2026-11-23 09:00 Pacific/Kiritimati, in 1h"


# --- freezes -----------------------------------------------------------------------------

FREEZE = """\
freezes:
  - name: year-end
    from: 2026-12-19 00:00
    to: 2027-01-04 00:00     # half-open
    timezone: Europe/Berlin
    reason: year-end change freeze
{unless}
rules:
  - name: production
    if: branch is release and not frozen
    trigger: deploy_docker
"""


@pytest.mark.parametrize(
    ("clock", "frozen"),
    [
        ("2026-12-18 22:59:59", False),  # Fri 23:59:59 Berlin
        ("2026-12-18 23:00:00", True),  # Sat 2026-12-19 00:00 Berlin: from is in
        ("2027-01-03 22:59:59", True),
        ("2027-01-03 23:00:00", False),  # Mon 2027-01-04 00:00 Berlin: to is out
    ],
)
def test_freeze_edges_are_half_open(tmp_path: Path, clock: str, frozen: bool) -> None:
    doc = run_at(tmp_path, FREEZE.format(unless=""), clock)
    assert doc["decision"] == ("skipped" if frozen else "dry-run")
    assert condition(doc, index=1)[0] is (not frozen)


def test_an_active_freeze_says_when_it_ends(tmp_path: Path) -> None:
    doc = run_at(tmp_path, FREEZE.format(unless=""), "2026-12-21 09:00:00")
    assert condition(doc, index=1) == (
        False,
        "year-end (year-end change freeze), ends Mon 2027-01-04 00:00 Europe/Berlin, in 13d 14h",
    )


def test_unless_lifts_the_freeze_for_a_hotfix(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    sha = repo.commit("fix: checkout [hotfix]", "a.py")
    rules = FREEZE.format(unless='    unless: message contains "[hotfix]"')
    doc = run_at(tmp_path, rules, "2026-12-21 09:00:00", "--repo", str(repo.path), CIRCLE_SHA1=sha)
    assert doc["decision"] == "dry-run"
    assert condition(doc, index=1) == (
        True,
        "year-end (year-end change freeze) is active, but its unless holds: "
        'message contains "[hotfix]"',
    )


def test_unless_that_does_not_hold_keeps_the_freeze(tmp_path: Path) -> None:
    rules = FREEZE.format(unless="    unless: branch is hotfix")
    doc = run_at(tmp_path, rules, "2026-12-21 09:00:00")
    assert doc["decision"] == "skipped"


def test_frozen_name_and_the_when_map(tmp_path: Path) -> None:
    rules = """\
windows:
  weekdays: {timezone: UTC, days: mon-fri, hours: "00:00-24:00"}
freezes:
  - {name: launch, from: 2026-11-19 12:00, to: 2026-11-20 12:00, timezone: UTC}
  - {name: audit, from: 2026-12-01, to: 2026-12-02, timezone: UTC}
rules:
  - name: a
    if: frozen launch and not frozen audit
    trigger: x
  - name: b
    when: {window: weekdays, frozen: false}
    trigger: y
"""
    doc = run_at(tmp_path, rules.replace("rules:", "match: all\nrules:"), "2026-11-19 13:00:00")
    assert [r["matched"] for r in doc["rules"]] == [True, False]
    assert [c["condition"] for c in doc["rules"][1]["conditions"]] == [
        "within weekdays",
        "frozen: false",
    ]


# --- validation --------------------------------------------------------------------------


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_rules(text, "gate.yml")
    return str(caught.value).splitlines()


RULE = "rules:\n  - {name: a, if: branch is x, trigger: d}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "windows:\n  w: {timezone: Europe/Berln, days: mon, hours: '09:00-10:00'}\n" + RULE,
            "gate.yml:2: windows.w.timezone: unknown time zone 'Europe/Berln' "
            "(a tz database name: Europe/Berlin, UTC)",
        ),
        (
            "windows:\n  w: {days: mon, hours: '09:00-10:00'}\n" + RULE,
            "gate.yml:2: windows.w: missing required key 'timezone' "
            "(a tz database name: Europe/Berlin, UTC)",
        ),
        (
            "windows:\n  w: {timezone: UTC, days: mon-frd, hours: '09:00-10:00'}\n" + RULE,
            "gate.yml:2: windows.w.days: 'frd' is not a day (did you mean 'fri'?)",
        ),
        (
            "windows:\n  w: {timezone: UTC, days: [mon-wed, tue], hours: '09:00-10:00'}\n" + RULE,
            "gate.yml:2: windows.w.days: tue is named twice in ['mon-wed', 'tue']",
        ),
        (
            "windows:\n  w: {timezone: UTC, days: mon, hours: '9-17'}\n" + RULE,
            "gate.yml:2: windows.w.hours: expected HH:MM-HH:MM (09:00-16:30), found '9-17'",
        ),
        (
            "windows:\n  w: {timezone: UTC, days: mon, hours: '10:00-10:00'}\n" + RULE,
            "gate.yml:2: windows.w.hours: '10:00-10:00' is empty: the start and the end are "
            "the same",
        ),
        (
            "freezes:\n  - {name: f, from: 2027-01-04, to: 2026-12-19, timezone: UTC}\n" + RULE,
            "gate.yml:2: freezes[0] (f).to: 2026-12-19 00:00 is not after from (2027-01-04 00:00)",
        ),
        (
            "freezes:\n  - {name: f, from: 'soon', to: 2026-12-19, timezone: UTC}\n" + RULE,
            "gate.yml:2: freezes[0] (f).from: expected YYYY-MM-DD HH:MM (local time), found 'soon'",
        ),
        (
            "freezes:\n  - {name: f, from: 2026-12-01, to: 2026-12-02, timezone: UTC}\n"
            "  - {name: f, from: 2026-12-03, to: 2026-12-04, timezone: UTC}\n" + RULE,
            "gate.yml:3: freezes[1] (f): the name 'f' is already used by a freeze",
        ),
        (
            "freezes:\n  - {name: f, from: 2026-12-01, to: 2026-12-02, timezone: UTC, "
            "unless: frozen}\n" + RULE,
            "gate.yml:2: freezes[0] (f): a freeze's unless cannot test 'frozen'",
        ),
        (
            "windows:\n  office-hours: {timezone: UTC, days: mon, hours: '09:00-10:00'}\n"
            "rules:\n  - {name: a, if: within ofice-hours, trigger: d}\n",
            "gate.yml:4: rules[0] (a): unknown window 'ofice-hours' (did you mean 'office-hours'?)",
        ),
        (
            "windows: []\n" + RULE,
            "gate.yml:1: windows: expected a mapping of named windows, found an empty list",
        ),
        (
            "freezes: {a: b}\n" + RULE,
            "gate.yml:1: freezes: expected a list of freezes, found a mapping",
        ),
        (
            "rules:\n  - {name: a, if: frozen year-end, trigger: d}\n",
            "gate.yml:2: rules[0] (a): unknown freeze 'year-end' (no freezes: are defined)",
        ),
        (
            "rules:\n  - {name: a, when: {window: office}, trigger: d}\n",
            "gate.yml:2: rules[0] (a): when: unknown window 'office' (no windows: are defined)",
        ),
    ],
)
def test_bad_windows_and_freezes(text: str, message: str) -> None:
    assert "\n".join(errors_of(text)) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "friday 5pm",
            "argument --now: expected an ISO 8601 instant such as 2026-11-20T17:00:00+01:00, "
            "found 'friday 5pm'",
        ),
        (
            "2026-11-20T17:00:00",
            "argument --now: '2026-11-20T17:00:00' has no offset: add one (+01:00) or Z, "
            "so it names one instant",
        ),
    ],
)
def test_unparsable_now_is_a_usage_error(tmp_path: Path, value: str, message: str) -> None:
    write(tmp_path / ".circleci" / "deploy-gate.yml", window_rules())
    result = run_gate(["--dry-run", "--now", value], circle_env(), tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"ci-deploy-gate: error: {message}"
    assert "Traceback" not in result.stderr


def test_now_accepts_z(tmp_path: Path) -> None:
    doc = run_at(tmp_path, window_rules(), "2020-01-01", "--now", "2026-11-19T08:00:00Z")
    assert condition(doc)[0] is True
