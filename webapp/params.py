"""Query parameters, parsed strictly: a malformed one is a 400 that says what is wrong, never a
500 from deep inside a query. Every page and export shares these filters, so the same URL
arguments select the same sessions everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, tzinfo

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from projector.sessions import SessionFilter, local_day_range
from webapp.buckets import FIRST_DAY, LAST_DAY, Range, month_range

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_CHARGER = 255


class BadParam(BadRequest):
    """A query parameter that cannot be understood; the message names it."""


def _day(args: MultiDict[str, str], name: str) -> date | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    try:
        if not _DAY.match(text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise BadParam(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_DAY <= value <= LAST_DAY:
        raise BadParam(f"{name}: {text} is outside {FIRST_DAY}..{LAST_DAY}")
    return value


def parse_month(text: str, name: str = "month") -> tuple[int, int]:
    """YYYY-MM, strictly."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise BadParam(f"{name}: {text!r} is not a month (YYYY-MM)")
    year, month = int(match[1]), int(match[2])
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise BadParam(f"{name}: {text} is outside {FIRST_DAY.year}..{LAST_DAY.year}")
    return year, month


@dataclass(frozen=True)
class Filters:
    """The sessions a request asks for: local days (inclusive) or one local month, a charger."""

    first: date | None = None
    last: date | None = None
    month: tuple[int, int] | None = None
    charger: str | None = None

    def bounds(self, zone: tzinfo) -> Range:
        """The half-open UTC range on plugged_at."""
        if self.month is not None:
            return month_range(*self.month, zone)
        return local_day_range(self.first, self.last, zone)

    def session_filter(self, zone: tzinfo) -> SessionFilter:
        """The filter list_sessions and the totals take."""
        start, end = self.bounds(zone)
        return SessionFilter(start, end, self.charger)

    def args(self) -> dict[str, str]:
        """The filters as URL arguments, to keep them in links (paging, exports, charts)."""
        out = {}
        if self.first:
            out["from"] = self.first.isoformat()
        if self.last:
            out["to"] = self.last.isoformat()
        if self.month:
            out["month"] = f"{self.month[0]:04d}-{self.month[1]:02d}"
        if self.charger:
            out["charger"] = self.charger
        return out

    @property
    def active(self) -> bool:
        """Whether any filter narrows the sessions."""
        return bool(self.args())


def parse_filters(args: MultiDict[str, str]) -> Filters:
    """from, to, month and charger from the query string, or a 400 that says why."""
    first, last = _day(args, "from"), _day(args, "to")
    if first and last and first > last:
        raise BadParam(f"from ({first}) is after to ({last})")
    month_text = args.get("month", "").strip()
    month = parse_month(month_text) if month_text else None
    if month and (first or last):
        raise BadParam("month cannot be combined with from or to")
    charger = args.get("charger", "").strip() or None
    if charger is not None and len(charger) > MAX_CHARGER:
        raise BadParam(f"charger: longer than {MAX_CHARGER} characters")
    return Filters(first, last, month, charger)


def int_arg(args: MultiDict[str, str], name: str, default: int, low: int, high: int) -> int:
    """A bounded whole number, so no value can reach SQL as an overflow."""
    text = args.get(name, "").strip()
    if not text:
        return default
    valid = text.isascii() and text.isdigit() and len(text) <= 9
    if not valid or not low <= int(text) <= high:
        raise BadParam(f"{name}: {text!r} is not a whole number from {low} to {high}")
    return int(text)
