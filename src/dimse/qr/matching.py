"""PS3.4 C.2.2.2 attribute matching of one key against stored DICOM JSON values.

A request key is compiled once into a :class:`Matcher`; the index then calls
``matches``/``select`` on each candidate's stored element. Decisions (each also stated
in the index's conformance notes):

* Single Value Matching is exact and case-sensitive (C.2.2.2.1), except PN.
* PN (C.2.2.2.1.1 lets the SCP choose): literal matching insensitive to case
  (Unicode casefold, not accents), component group by component group: ``DOE*``
  matches the alphabetic group of ``Doe^John``, ``=王*`` the ideographic group. Trailing
  ``^`` and spaces of a group are insignificant (PS3.5 6.2.1). ``case_insensitive_pn``
  turns the folding off.
* Wild Card Matching (C.2.2.2.4) for AE, CS, LO, LT, PN, SH, ST, UC, UR, UT: ``*`` any
  run (also empty), ``?`` one character; linear time, never a regex backtrack.
* List of UID Matching (C.2.2.2.2) for UI with several values. A multi-valued key of
  another VR matches if any of its values does (what dcmtk and dcm4chee do for
  Modalities in Study; C.2.2.2 allows a larger VM "as defined for particular Matching
  Type").
* Range Matching (C.2.2.2.5) of DA, TM, DT compares meanings, not strings: a partial
  value is the interval it names (``2020`` as an upper bound is 2020-12-31, ``10`` as a
  TM upper bound is 10:59:59.999999); a stored value is the start of its interval; DT
  offsets are applied (values without one are taken as UTC); Single Value Matching of
  these VRs is the range from a value to itself (C.2.2.2.1.3 note 2).
* Combined date-time matching (C.2.2.2.5.4) only when negotiated (or mandated by the
  model, Annex II): see :class:`DateTimeMatcher`.
* Universal Matching (C.2.2.2.3) returns the stored value. A stored value of zero
  length matches any key that is not a Unique Key (C.2.2.1.2).
* Matching Multiple Values (C.2.2.3): a stored value matches if any of its values does
  and all of them are returned.
* Sequence Matching (C.2.2.2.6): one query item, matched item by item; the response
  carries the matching items with only the requested keys, or the whole sequence
  for a zero-item/empty-item key.
"""

from __future__ import annotations

import base64
import calendar
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import attrs
from pydicom.dataelem import DataElement

from dimse.qr.dicomjson import JsonElement, element_values, tag_key
from dimse.qr.errors import IdentifierError, UnableToProcess

__all__ = [
    "RANGE_VRS",
    "WILDCARD_VRS",
    "DateTimeMatcher",
    "MatchKind",
    "Matcher",
    "compile_key",
    "datetime_pair",
    "has_wildcard",
    "normalise_pn",
    "parse_range",
    "point",
    "value_bounds",
    "wildcard_match",
    "wildcard_regex",
]

WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
RANGE_VRS = frozenset({"DA", "TM", "DT"})
NUMERIC_VRS = frozenset({"IS", "DS", "US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"})
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


class MatchKind(Enum):
    UNIVERSAL = "universal"
    SINGLE = "single value"
    UID_LIST = "list of UID"
    WILDCARD = "wild card"
    RANGE = "range"
    SEQUENCE = "sequence"


# -- wild cards ---------------------------------------------------------------------------


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """The C.2.2.2.4 pattern as a regular expression (for ``fullmatch``); a reference
    for tests and for stores that match in a regex-capable database."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def wildcard_match(pattern: str, text: str) -> bool:
    """C.2.2.2.4 wild card matching in O(len(pattern) * len(text)) at worst."""
    if "?" not in pattern:
        parts = pattern.split("*")
        if len(parts) == 1:
            return pattern == text
        first, last = parts[0], parts[-1]
        if len(first) + len(last) > len(text):
            return False
        if not (text.startswith(first) and text.endswith(last)):
            return False
        pos, end = len(first), len(text) - len(last)
        for middle in parts[1:-1]:
            if middle:
                found = text.find(middle, pos, end)
                if found < 0:
                    return False
                pos = found + len(middle)
        return True
    p = t = 0
    star = -1
    mark = 0
    while t < len(text):
        if p < len(pattern) and pattern[p] in ("?", text[t]) and pattern[p] != "*":
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


# -- person names -------------------------------------------------------------------------


def _pn_groups(text: str) -> list[str]:
    return [group.rstrip("^ ") for group in text.split("=")]


def normalise_pn(text: str, fold: bool) -> str:
    """The alphabetic group as the index keys it: trailing ``^``/spaces gone, folded."""
    group = _pn_groups(text)[0]
    return group.casefold() if fold else group


def _pn_test(query: str, fold: bool) -> Callable[[Any], bool]:
    wanted = [(i, g.casefold() if fold else g) for i, g in enumerate(_pn_groups(query)) if g]

    def test(value: Any) -> bool:
        groups = _pn_groups(str(value))
        for index, pattern in wanted:
            group = groups[index] if index < len(groups) else ""
            if fold:
                group = group.casefold()
            if not (wildcard_match(pattern, group) if has_wildcard(pattern) else pattern == group):
                return False
        return True

    return test


# -- dates and times ----------------------------------------------------------------------

_DA = re.compile(r"(\d{4})(?:(\d{2})(\d{2})?)?")
_TM = re.compile(r"(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?")
_DT_TEXT = r"\d{4}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?)?)?(?:[+-]\d{4})?"
_DT = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?"
    r"([+-]\d{4})?"
)
_DT_RANGE = re.compile(rf"({_DT_TEXT})?-({_DT_TEXT})?")


def _date_bounds(year: str, month: str | None, day: str | None) -> tuple[str, str]:
    y = int(year)
    lo_m, hi_m = (month, month) if month else ("01", "12")
    if not 1 <= int(lo_m) <= 12 or y < 1:
        raise ValueError(f"no such date {year}{month or ''}{day or ''}")
    last = calendar.monthrange(y, int(hi_m))[1]
    lo_d, hi_d = (day, day) if day else ("01", f"{last:02d}")
    if not 1 <= int(lo_d) <= calendar.monthrange(y, int(lo_m))[1]:
        raise ValueError(f"no such date {year}{month}{day}")
    return f"{year}{lo_m}{lo_d}", f"{year}{hi_m}{hi_d}"


def _time_bounds(hh: str, mm: str | None, ss: str | None, frac: str | None) -> tuple[str, str]:
    if int(hh) > 23 or (mm and int(mm) > 59) or (ss and int(ss) > 60):
        raise ValueError(f"no such time {hh}{mm or ''}{ss or ''}")
    frac = frac or ""
    lo = f"{hh}{mm or '00'}{ss or '00'}.{frac.ljust(6, '0')}"
    hi = f"{hh}{mm or '59'}{ss or '59'}.{frac.ljust(6, '9')}"
    return lo, hi


def _utc(stamp: str, offset: str) -> str:
    """Shift a canonical DT stamp by a ``+HHMM``/``-HHMM`` offset to UTC (a leap
    second counts as :59; a shift past year 1 or 9999 is left unshifted)."""
    sign = -1 if offset[0] == "+" else 1
    minutes = int(offset[1:3]) * 60 + int(offset[3:5])
    try:
        moment = datetime(
            int(stamp[0:4]),
            int(stamp[4:6]),
            int(stamp[6:8]),
            int(stamp[8:10]),
            int(stamp[10:12]),
            min(int(stamp[12:14]), 59),
            int(stamp[15:21]),
        ) + timedelta(minutes=sign * minutes)
    except (OverflowError, ValueError):
        return stamp
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}{moment.hour:02d}"
        f"{moment.minute:02d}{moment.second:02d}.{moment.microsecond:06d}"
    )


def value_bounds(vr: str, text: str) -> tuple[str, str]:
    """The interval a DA/TM/DT value names, as two fixed-width strings that compare
    like the moments they stand for (DA ``YYYYMMDD``, TM ``HHMMSS.ffffff``, DT both).
    Raises ValueError for anything else."""
    text = text.strip()
    if vr == "DA":
        m = _DA.fullmatch(text.replace(".", "") if len(text) == 10 else text)
        if not m:
            raise ValueError(f"not a DA value: {text!r}")
        return _date_bounds(*m.groups())
    if vr == "TM":
        m = _TM.fullmatch(text.replace(":", ""))
        if not m:
            raise ValueError(f"not a TM value: {text!r}")
        return _time_bounds(*m.groups())
    m = _DT.fullmatch(text)
    if not m:
        raise ValueError(f"not a DT value: {text!r}")
    y, mo, d, hh, mi, ss, frac, offset = m.groups()
    d_lo, d_hi = _date_bounds(y, mo, d)
    if hh:
        t_lo, t_hi = _time_bounds(hh, mi, ss, frac)
    else:
        t_lo, t_hi = "000000.000000", "235959.999999"
    lo, hi = d_lo + t_lo, d_hi + t_hi
    if offset:
        lo, hi = _utc(lo, offset), _utc(hi, offset)
    return lo, hi


def point(vr: str, text: str) -> str | None:
    """Where a stored DA/TM/DT value sits on its scale (its start); None if invalid."""
    try:
        return value_bounds(vr, text)[0]
    except ValueError:
        return None


def parse_range(vr: str, text: str) -> tuple[str | None, str | None]:
    """``a-b``, ``-b``, ``a-`` (C.2.2.2.5) as inclusive canonical bounds; a value
    without ``-`` is the range from itself to itself. Raises ValueError."""
    text = text.replace(" ", "")
    if "-" not in text:
        return value_bounds(vr, text)
    if vr == "DT":
        m = _DT_RANGE.fullmatch(text)
        if not m:
            raise ValueError(f"not a DT range: {text!r}")
        first, last = m.group(1), m.group(2)
    else:
        first, _, last = text.partition("-")
        if "-" in last:
            raise ValueError(f"not a {vr} range: {text!r}")
    lo = value_bounds(vr, first)[0] if first else None
    hi = value_bounds(vr, last)[1] if last else None
    if lo is not None and hi is not None and lo > hi and vr != "TM":
        # A TM range may end before it starts as the time half of a combined date-time
        # range (C.2.2.2.5.4); alone it matches nothing (no crossing of midnight).
        raise ValueError(f"range {text!r} ends before it starts")
    return lo, hi


# -- compiled keys ------------------------------------------------------------------------

ValueTest = Callable[[Any], bool]


def _number(value: Any) -> float:
    return float(str(value).strip())


def _value_test(vr: str, query: Any, fold_pn: bool) -> ValueTest:
    if vr == "PN":
        return _pn_test(str(query), fold_pn)
    if vr in WILDCARD_VRS:
        text = str(query)
        if has_wildcard(text):
            return lambda value: isinstance(value, str) and wildcard_match(text, value)
        return lambda value: value == text
    if vr in RANGE_VRS:
        lo, hi = parse_range(vr, str(query))

        def in_range(value: Any) -> bool:
            at = point(vr, str(value))
            return at is not None and (lo is None or at >= lo) and (hi is None or at <= hi)

        return in_range
    if vr in NUMERIC_VRS:
        wanted = _number(query)

        def equal(value: Any) -> bool:
            try:
                return _number(value) == wanted
            except ValueError:
                return False

        return equal
    if vr == "AT":
        tag = int(query)
        return lambda value: isinstance(value, str) and int(value, 16) == tag
    if vr in BINARY_VRS and isinstance(query, bytes):
        encoded = base64.b64encode(query).decode("ascii")
        return lambda value: value == encoded
    text = str(query)
    return lambda value: str(value) == text


def _query_values(element: DataElement) -> list[Any]:
    if element.is_empty:
        return []
    value = element.value
    if isinstance(value, bytes | str) or not isinstance(value, Sequence):
        return [value]
    return [v for v in value if v is not None and v != ""]


@attrs.frozen
class Matcher:
    """One request key, ready to match stored JSON elements and select return values.

    ``values`` are the request's values (strings, numbers) and ``bounds`` their DA/TM/DT
    intervals, for a store that pushes the match into its own query language first.
    """

    tag: int
    keyword: str
    vr: str
    kind: MatchKind
    empty_matches: bool
    values: tuple[Any, ...] = ()
    bounds: tuple[tuple[str | None, str | None], ...] = ()
    tests: tuple[ValueTest, ...] = attrs.field(default=(), repr=False, eq=False)
    items: tuple[Matcher, ...] = ()
    fold_pn: bool = True

    @property
    def key(self) -> str:
        return tag_key(self.tag)

    @property
    def universal(self) -> bool:
        return self.kind is MatchKind.UNIVERSAL

    def matches(self, element: JsonElement | None) -> bool:
        if self.kind is MatchKind.UNIVERSAL:
            return True
        if self.kind is MatchKind.SEQUENCE:
            items = element.get("Value") if element else None
            if not items:
                return self.empty_matches
            return any(self._item_matches(item) for item in items if isinstance(item, dict))
        values = element_values(element)
        if not values:
            return self.empty_matches
        return any(test(value) for value in values for test in self.tests)

    def _item_matches(self, item: dict[str, JsonElement]) -> bool:
        return all(m.matches(item.get(m.key)) for m in self.items)

    def select(self, element: JsonElement | None) -> JsonElement:
        """The value to return for this key (C.2.2.2.3, C.2.2.2.6, C.2.2.3)."""
        if self.kind is not MatchKind.SEQUENCE or not self.items:
            if element is None:
                return {"vr": self.vr}
            return element
        stored = element.get("Value") if element else None
        chosen = [
            {m.key: m.select(item.get(m.key)) for m in self.items}
            for item in stored or ()
            if isinstance(item, dict) and self._item_matches(item)
        ]
        return {"vr": "SQ", "Value": chosen} if chosen else {"vr": "SQ"}


def compile_key(element: DataElement, *, empty_matches: bool, fold_pn: bool = True) -> Matcher:
    """Compile one Identifier element; raises IdentifierError for a malformed sequence
    key and UnableToProcess for a value no matching type accepts."""
    tag, vr = int(element.tag), str(element.VR)
    keyword = element.keyword or tag_key(tag)
    if vr == "SQ":
        items = list(element.value or ())
        if len(items) > 1:
            raise IdentifierError(f"{keyword}: a sequence key has one item (C.2.2.2.6)", [tag])
        sub = tuple(
            compile_key(e, empty_matches=True, fold_pn=fold_pn) for e in (items[0] if items else ())
        )
        kind = (
            MatchKind.SEQUENCE if sub and not all(m.universal for m in sub) else MatchKind.UNIVERSAL
        )
        return Matcher(tag, keyword, vr, kind, empty_matches, items=sub, fold_pn=fold_pn)
    values = _query_values(element)
    if not values:
        return Matcher(tag, keyword, vr, MatchKind.UNIVERSAL, empty_matches, fold_pn=fold_pn)
    try:
        tests = tuple(_value_test(vr, value, fold_pn) for value in values)
        bounds = tuple(parse_range(vr, str(v)) for v in values) if vr in RANGE_VRS else ()
    except (ValueError, TypeError) as exc:
        raise UnableToProcess(f"{keyword}: {exc}", [tag]) from exc
    texts = [str(v) for v in values]
    if vr in RANGE_VRS and any("-" in t for t in texts):
        kind = MatchKind.RANGE
    elif vr in WILDCARD_VRS and any(has_wildcard(t) for t in texts):
        kind = MatchKind.WILDCARD
    elif vr == "UI" and len(values) > 1:
        kind = MatchKind.UID_LIST
    else:
        kind = MatchKind.SINGLE
    return Matcher(
        tag, keyword, vr, kind, empty_matches, tuple(values), bounds, tests, fold_pn=fold_pn
    )


@attrs.frozen
class DateTimeMatcher:
    """A DA key and a TM key matched as one DT range (C.2.2.2.5.4), e.g. Study Date
    ``20060705-20060707`` with Study Time ``1000-1800``: July 5 10:00 to July 7 18:00.

    A stored date without a time matches when the date is in the range's days.
    """

    date: Matcher
    time: Matcher
    lo: str | None
    hi: str | None

    def matches(self, date: JsonElement | None, time: JsonElement | None) -> bool:
        dates = element_values(date)
        if not dates:
            return self.date.empty_matches
        day = point("DA", str(dates[0]))
        if day is None:
            return False
        times = element_values(time)
        clock = point("TM", str(times[0])) if times else None
        if clock is None:
            return (self.lo is None or day >= self.lo[:8]) and (
                self.hi is None or day <= self.hi[:8]
            )
        moment = day + clock
        return (self.lo is None or moment >= self.lo) and (self.hi is None or moment <= self.hi)


def _range_form(matcher: Matcher) -> tuple[bool, bool] | None:
    if matcher.kind is not MatchKind.RANGE or len(matcher.bounds) != 1:
        return None
    lo, hi = matcher.bounds[0]
    return (lo is not None, hi is not None)


def datetime_pair(date: Matcher, time: Matcher) -> DateTimeMatcher | None:
    """The combined matcher when both keys use the same form of Range Matching."""
    form = _range_form(date)
    if form is None or form != _range_form(time):
        return None
    (d_lo, d_hi), (t_lo, t_hi) = date.bounds[0], time.bounds[0]
    lo = d_lo + t_lo if d_lo is not None and t_lo is not None else None
    hi = d_hi + t_hi if d_hi is not None and t_hi is not None else None
    return DateTimeMatcher(date, time, lo, hi)
