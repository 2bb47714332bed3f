"""Deploy windows and change freezes on the wall clock of a time zone.

Pure: every function takes the instant `now` (aware). A window `09:00-16:30` is open while
the local clock reads from 09:00 up to 16:30, on both sides of a daylight-saving change.
Deliberately, for the two odd cases of such a change:
  - a local time that does not exist (the clock jumps from 02:00 to 03:00): a window or
    freeze edge inside the gap takes effect when the clock jumps past it, at 03:00;
  - a local time that occurs twice (the clock goes back from 03:00 to 02:00): the window
    is open at both readings, and a freeze edge takes the first.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING

from ci_deploy_gate.context import TimeState

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ci_deploy_gate.rules import Freeze, Window

UTC = timezone.utc
_LOOKAHEAD_DAYS = 8  # a window with any day opens within a week


def zone(name: str) -> ZoneInfo:
    """The tz database zone; KeyError-free: raises ValueError with the name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (a tz database name: Europe/Berlin, UTC)"
        ) from None


def first_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant at which the local clock of `tz` reads `wall` or later, that day:
    `wall` itself, its first occurrence when it occurs twice, the jump when it does not."""
    early, late = (wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
    low, high = min(early, late), max(early, late)
    if _reads(low, tz) >= wall:
        return low
    while high - low > timedelta(seconds=1):  # a gap: find the jump (to the second)
        middle = low + (high - low) / 2
        if _reads(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _reads(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def is_open(window: Window, now: datetime) -> bool:
    local = now.astimezone(zone(window.timezone))
    clock, day = local.time().replace(tzinfo=None), local.weekday()
    if window.overnight:
        assert window.end is not None
        return (day in window.days and clock >= window.start) or (
            (day - 1) % 7 in window.days and clock < window.end
        )
    return (
        day in window.days and window.start <= clock and (window.end is None or clock < window.end)
    )


def _edges(window: Window, today: date, *, opening: bool) -> list[datetime]:
    """The instants around `today` at which the window opens (or closes)."""
    tz = zone(window.timezone)
    found = []
    for offset in range(-1, _LOOKAHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        if opening:
            wall = datetime.combine(day, window.start)
        elif window.end is None:
            wall = datetime.combine(day + timedelta(days=1), time(0))
        else:
            wall = datetime.combine(day + timedelta(days=window.overnight), window.end)
        found.append(first_instant(wall, tz))
        if opening:  # a time that occurs twice opens the window twice
            found.append(wall.replace(tzinfo=tz, fold=1).astimezone(UTC))
    return sorted(found)


def window_state(window: Window, now: datetime) -> TimeState:
    tz = zone(window.timezone)
    today = now.astimezone(tz).date()
    if is_open(window, now):
        closes = next((t for t in _edges(window, today, opening=False) if t > now), None)
        return TimeState(True, "open" + (f", closes {when(closes, now, tz)}" if closes else ""))
    opens = next(
        (t for t in _edges(window, today, opening=True) if t > now and is_open(window, t)),
        None,
    )
    return TimeState(False, f"closed, opens {when(opens, now, tz)}" if opens else "closed")


def freeze_span(freeze: Freeze) -> tuple[datetime, datetime]:
    tz = zone(freeze.timezone)
    return first_instant(freeze.start, tz), first_instant(freeze.end, tz)


def freeze_state(freeze: Freeze, now: datetime, *, excused: str | None) -> TimeState:
    """`excused`: the `unless` that holds, which lifts an active freeze."""
    tz = zone(freeze.timezone)
    start, end = freeze_span(freeze)
    label = f"{freeze.name}" + (f" ({freeze.reason})" if freeze.reason else "")
    if now < start:
        return TimeState(False, f"{label} starts {when(start, now, tz)}")
    if now >= end:
        return TimeState(False, f"{label} ended {end.astimezone(tz):%a %Y-%m-%d %H:%M} {tz.key}")
    if excused:
        return TimeState(False, f"{label} is active, but its unless holds: {excused}")
    return TimeState(True, f"{label}, ends {when(end, now, tz)}")


def when(instant: datetime, now: datetime, tz: ZoneInfo) -> str:
    """'Mon 2026-11-23 09:00 Europe/Berlin, in 2d 14h'."""
    local = instant.astimezone(tz)
    return f"{local:%a %Y-%m-%d %H:%M} {tz.key}, in {duration(instant - now)}"


def duration(span: timedelta) -> str:
    """The two largest units: 2d 14h, 3h 5m, 12m, 40s."""
    seconds = max(int(span.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m")]
    while units and units[0][0] == 0:
        units.pop(0)
    return " ".join(f"{amount}{unit}" for amount, unit in units[:2] if amount)
