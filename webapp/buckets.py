"""Local days and months as UTC ranges: the one place that turns the site's calendar into the
half-open [start, end) ranges the SQL filters on, so the page, the CSV and the API bucket alike.

A bucket is decided by the local date of the session start in [site] timezone. Boundaries are
computed with zoneinfo (DST-aware: a local month can be 30 days and 23 hours long), with the same
convention as projector.sessions.local_day_range: a skipped local midnight starts the day at the
transition, a repeated one at its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

Range = tuple[datetime | None, datetime | None]
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9000, 12, 31)


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first instant of a local day, in UTC."""
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)


def day_range(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """A local day as a half-open UTC range (23 or 25 hours on DST days)."""
    return day_start(day, zone), day_start(day + timedelta(days=1), zone)


def add_months(year: int, month: int, count: int) -> tuple[int, int]:
    """Month arithmetic on (year, month) pairs."""
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


def month_range(year: int, month: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """A local month as a half-open UTC range."""
    next_year, next_month = add_months(year, month, 1)
    return day_start(date(year, month, 1), zone), day_start(date(next_year, next_month, 1), zone)


def year_range(year: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """A local year as a half-open UTC range."""
    return day_start(date(year, 1, 1), zone), day_start(date(year + 1, 1, 1), zone)


def local_month(moment: datetime, zone: tzinfo) -> tuple[int, int]:
    """The (year, month) bucket of a session start."""
    local = moment.astimezone(zone)
    return local.year, local.month


def clip(bucket: Range, limits: Range) -> Range | None:
    """A bucket narrowed to the filter's range (None = unbounded); None when they miss."""
    starts = [t for t in (bucket[0], limits[0]) if t is not None]
    ends = [t for t in (bucket[1], limits[1]) if t is not None]
    start, end = (max(starts) if starts else None), (min(ends) if ends else None)
    if start is not None and end is not None and start >= end:
        return None
    return start, end


def today(zone: tzinfo) -> date:
    """The site's local date now (the charts end there by default)."""
    return datetime.now(zone).date()


class NamedMonth:
    """`key` and `title` for anything holding a local `year` and `month` (a group of the sessions
    page, a statement, a line of the statements list): one spelling of a month everywhere."""

    year: int
    month: int

    @property
    def key(self) -> str:
        """YYYY-MM: ids, the month filter and the statement URLs."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def title(self) -> str:
        """The month as people say it."""
        return date(self.year, self.month, 1).strftime("%B %Y")
