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

import re
from datetime import date, datetime, time, timedelta, timezone

from ci_deploy_gate.context import TimeState
from ci_deploy_gate.errors import suggest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ci_deploy_gate.model import Freeze, Window

UTC = timezone.utc
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = r"([01]?[0-9]|2[0-4]):([0-5][0-9])"
HOURS = rf"^\s*{CLOCK}\s*-\s*{CLOCK}\s*$"  # 09:00-16:30
LOCAL_TIME = r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}:\d{2}))?$"  # 2026-12-19 00:00
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


def parse_days(raw: object) -> frozenset[int]:
    """`mon-thu`, `sat`, `mon, wed`, or a list of those; a range may wrap (`fri-mon`).
    ValueError says what is wrong."""
    from ci_deploy_gate.yamllines import kind_of

    parts = raw if isinstance(raw, list) else str(raw).split(",") if raw else []
    days: list[int] = []
    for part in parts:
        if not isinstance(part, str) or not part.strip():
            raise ValueError(f"expected day names (mon-fri, sat), found {kind_of(part)}")
        first, dash, last = (piece.strip().lower() for piece in part.partition("-"))
        unknown = [n for n in (first, last) if n and n not in DAY_NAMES]
        if unknown or (dash and not last):
            bad = unknown[0] if unknown else part.strip()
            hint = suggest(bad, DAY_NAMES) or f"days are {', '.join(DAY_NAMES)}"
            raise ValueError(f"{bad!r} is not a day ({hint})")
        start = DAY_NAMES.index(first)
        span = (DAY_NAMES.index(last) - start) % 7 if dash else 0
        for offset in range(span + 1):
            day = (start + offset) % 7
            if day in days:
                raise ValueError(f"{DAY_NAMES[day]} is named twice in {raw!r}")
            days.append(day)
    if not days:
        raise ValueError("no day given: the window would never open")
    return frozenset(days)


def parse_hours(raw: object) -> tuple[time, time | None]:
    """`HH:MM-HH:MM`, half-open; an end of `24:00` is None, the end of the day."""
    found = re.match(HOURS, raw) if isinstance(raw, str) else None
    if found is None:
        raise ValueError(f"expected HH:MM-HH:MM (09:00-16:30), found {raw!r}")
    start_h, start_m, end_h, end_m = (int(group) for group in found.groups())
    if start_h == 24 or (24 in (start_h, end_h) and (start_m or end_m)):
        raise ValueError(f"{raw!r}: 24:00 is only an end, the end of the day")
    start, end = time(start_h, start_m), None if end_h == 24 else time(end_h, end_m)
    if end == start:
        raise ValueError(f"{raw!r} is empty: the start and the end are the same")
    return start, end


def parse_local_time(raw: object) -> datetime:
    """`2026-12-19 00:00` or `2026-12-19` (midnight), on a clock the caller names."""
    if isinstance(raw, datetime):
        if raw.tzinfo is not None:
            raise ValueError(
                f"{raw.isoformat()} has an offset: give the local time, "
                "the freeze's timezone says where"
            )
        return raw
    if isinstance(raw, date):
        return datetime.combine(raw, time(0))
    found = re.match(LOCAL_TIME, raw.strip()) if isinstance(raw, str) else None
    try:
        if found is None:
            raise ValueError
        return datetime.fromisoformat(f"{found.group(1)} {found.group(2) or '00:00'}")
    except ValueError:
        raise ValueError(f"expected YYYY-MM-DD HH:MM (local time), found {raw!r}") from None


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


def in_force(freeze: Freeze, now: datetime) -> bool:
    """Whether `now` is inside the freeze's span, its `unless` aside."""
    start, end = freeze_span(freeze)
    return start <= now < end


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
