"""PS3.4 C.2.2.2 attribute matching, rule by rule, with Hypothesis where a rule has a
reference to compare against (a regular expression, calendar order)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from _qr_data import element
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dimse.qr.errors import IdentifierError, UnableToProcess
from dimse.qr.matching import (
    Matcher,
    MatchKind,
    compile_key,
    datetime_pair,
    parse_range,
    point,
    value_bounds,
    wildcard_match,
    wildcard_regex,
)


def key(keyword: str, value: Any, *, empty_matches: bool = True, fold: bool = True) -> Matcher:
    return compile_key(element(keyword, value), empty_matches=empty_matches, fold_pn=fold)


def stored(vr: str, *values: Any) -> dict[str, Any]:
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": v} for v in values]}
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


# -- single value, universal, empty -------------------------------------------------------


def test_single_value_is_exact_and_case_sensitive() -> None:
    """C.2.2.2.1: except PN, only values equal to the key match, case included."""
    m = key("AccessionNumber", "ACC1")
    assert m.kind is MatchKind.SINGLE
    assert m.matches(stored("SH", "ACC1"))
    assert not m.matches(stored("SH", "acc1"))
    assert not m.matches(stored("SH", "ACC10"))


def test_universal_matches_everything_and_returns_the_value() -> None:
    """C.2.2.2.3: a zero-length key matches all and asks for the value."""
    m = key("StudyDescription", "")
    assert m.kind is MatchKind.UNIVERSAL
    element = stored("LO", "Chest")
    assert m.matches(element) and m.matches(None)
    assert m.select(element) == element
    assert m.select(None) == {"vr": "LO"}


def test_zero_length_stored_value_matches_required_keys_only() -> None:
    """C.2.2.1.2: an unknown (zero length) Required Key value matches any key; a Unique
    Key is never unknown, so an empty one matches nothing."""
    assert key("StudyDate", "20200101").matches(stored("DA"))
    assert key("StudyDate", "20200101").matches(None)
    assert not key("PatientID", "X", empty_matches=False).matches(stored("LO"))


def test_multiple_stored_values_any_matches() -> None:
    """C.2.2.3: one matching value is enough; all values are returned."""
    m = key("ImageType", "DERIVED")
    element = stored("CS", "ORIGINAL", "DERIVED")
    assert m.matches(element)
    assert m.select(element) == element


def test_multi_valued_key_of_a_text_vr_matches_any_value() -> None:
    m = key("ModalitiesInStudy", ["CT", "MR"])
    assert m.matches(stored("CS", "US", "MR"))
    assert not m.matches(stored("CS", "US"))


def test_numbers_match_by_value() -> None:
    assert key("SeriesNumber", "5").matches(stored("IS", 5))
    assert key("SeriesNumber", "05").matches(stored("IS", "5"))
    assert not key("SeriesNumber", "5").matches(stored("IS", 50))
    assert key("Rows", 512).matches(stored("US", 512))


# -- list of UIDs -------------------------------------------------------------------------


def test_list_of_uid_matching() -> None:
    """C.2.2.2.2: each UID of a backslash-separated list may generate a match."""
    m = key("StudyInstanceUID", ["1.2.3", "1.2.4"], empty_matches=False)
    assert m.kind is MatchKind.UID_LIST
    assert m.matches(stored("UI", "1.2.4"))
    assert not m.matches(stored("UI", "1.2.5"))
    assert not key("StudyInstanceUID", "1.2.*").matches(stored("UI", "1.2.3"))  # no wild cards


# -- wild cards ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("DOE*", "DOE^JOHN", True),
        ("*", "", True),
        ("*", "anything", True),
        ("D?E", "DOE", True),
        ("D?E", "DE", False),
        ("*JOHN", "DOE^JOHN", True),
        ("*O*N*", "DOE^JOHN", True),
        ("A*B*C", "AXBYC", True),
        ("A*B*C", "AXCYB", False),
        ("??", "é1", True),
        ("a*a*a*a*b", "a" * 40, False),
        ("a[b]", "a[b]", True),
        ("*.*", "1.2", True),
    ],
)
def test_wildcard_examples(pattern: str, text: str, expected: bool) -> None:
    """C.2.2.2.4: * is any run (also empty), ? any single character; [] are literal."""
    assert wildcard_match(pattern, text) is expected


_ALPHABET = st.sampled_from(list("ab*?^.[] é"))


@given(st.text(_ALPHABET, max_size=8), st.text(st.sampled_from(list("ab^.[] é*?")), max_size=10))
def test_wildcard_agrees_with_regex(pattern: str, text: str) -> None:
    assert wildcard_match(pattern, text) == bool(wildcard_regex(pattern).fullmatch(text))


def test_wildcard_applies_to_cs_and_text_vrs_not_others() -> None:
    """C.2.2.2.1.2/C.2.2.2.4: AE CS LO LT PN SH ST UC UR UT take wild cards."""
    assert key("Modality", "C?").kind is MatchKind.WILDCARD
    assert key("Modality", "C?").matches(stored("CS", "CT"))
    assert key("StudyDescription", "*chest*").matches(stored("LO", "a chest film"))
    assert not key("StudyDescription", "*CHEST*").matches(stored("LO", "a chest film"))


def test_wildcard_is_linear_on_hostile_patterns() -> None:
    assert not wildcard_match("*a" * 30 + "b", "a" * 2000)


# -- person names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "name", "expected"),
    [
        ("DOE*", "DOE^JOHN", True),
        ("DOE*", "Doe^John", True),  # case-insensitive, what dcmtk/pynetdicom users expect
        ("doe^john", "DOE^JOHN", True),
        ("DOE", "DOE^JOHN", False),  # literal, no implied wild card
        ("DOE^JOHN", "DOE^JOHN^^^", True),  # trailing empty components are insignificant
        ("müller*", "MÜLLER^JÜRGEN", True),  # Unicode case folding
        ("=王*", "Wang^XiaoDong=王^小東", True),  # ideographic component group
        ("Wang*=李*", "Wang^XiaoDong=王^小東", False),
        ("Wang^XiaoDong", "Wang^XiaoDong=王^小東", True),  # alphabetic group only
        ("*", "", True),
    ],
)
def test_person_names(query: str, name: str, expected: bool) -> None:
    """C.2.2.2.1.1: literal PN matching insensitive to case, group by group."""
    assert key("PatientName", query).matches(stored("PN", name)) is expected


def test_person_names_case_sensitive_when_asked() -> None:
    assert not key("PatientName", "DOE*", fold=False).matches(stored("PN", "Doe^John"))
    assert key("PatientName", "Doe*", fold=False).matches(stored("PN", "Doe^John"))


# -- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "value", "expected"),
    [
        ("20200101-20201231", "20200101", True),  # inclusive start
        ("20200101-20201231", "20201231", True),  # inclusive end
        ("20200101-20201231", "20210101", False),
        ("20200101-", "20991231", True),  # "<date1> -": that date and later
        ("20200101-", "20191231", False),
        ("-20201231", "19000101", True),  # "- <date1>": that date and earlier
        ("-20201231", "20210101", False),
        ("20200101 - 20200131", "20200115", True),  # the standard's spacing
        ("2020-2020", "20201231", True),  # partial: the interval it names
        ("20200101", "20200101", True),  # single value
        ("20200101", "2020.01.01", True),  # ACR-NEMA style stored value
        ("20200101-20201231", "garbage", False),
    ],
)
def test_date_ranges(query: str, value: str, expected: bool) -> None:
    """C.2.2.2.5.1."""
    assert key("StudyDate", query).matches(stored("DA", value)) is expected


@pytest.mark.parametrize(
    ("query", "value", "expected"),
    [
        ("1000-1800", "1000", True),
        ("1000-1800", "180059.999999", True),  # "1800" as an upper bound is 18:00:59.999999
        ("1000-1800", "1801", False),
        ("-0930", "000000", True),
        ("2230", "223000", True),  # C.2.2.2.1.3 note 1
        ("2230", "223015.5", True),
        ("2230", "2231", False),
        ("10:00-11:00", "10:30:00", True),  # ACR-NEMA style
    ],
)
def test_time_ranges(query: str, value: str, expected: bool) -> None:
    """C.2.2.2.5.2: times within one day; partial times name intervals."""
    assert key("StudyTime", query).matches(stored("TM", value)) is expected


@pytest.mark.parametrize(
    ("query", "value", "expected"),
    [
        ("20200101120000-20200101130000", "20200101123000", True),
        ("20200101120000+0100-", "20200101110000", True),  # offset taken into account
        ("20200101120000+0100-", "20200101105959", False),
        ("-2019", "20191231235959.999999", True),
        ("19980128103000.0000", "19980128103000", True),  # C.2.2.2.1.3 note 1
        ("20200101-0500", "20200101", None),  # a range ending in year 0500: refused
    ],
)
def test_datetime_ranges(query: str, value: str, expected: bool | None) -> None:
    """C.2.2.2.5.3 (d: UTC offsets count)."""
    if expected is None:
        with pytest.raises(UnableToProcess):
            key("AcquisitionDateTime", query)
        return
    assert key("AcquisitionDateTime", query).matches(stored("DT", value)) is expected


@pytest.mark.parametrize("bad", ["20201301-", "2020-13-01", "20200230", "x-y", "20201231-20200101"])
def test_bad_ranges_are_unable_to_process(bad: str) -> None:
    with pytest.raises(UnableToProcess) as info:
        key("StudyDate", bad)
    assert info.value.offending == (0x00080020,)


_dates = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))


@given(_dates, _dates, _dates, st.sampled_from(["closed", "from", "until"]))
def test_date_range_agrees_with_the_calendar(
    a: dt.date, b: dt.date, value: dt.date, form: str
) -> None:
    lo, hi = min(a, b), max(a, b)
    text = {"closed": f"{lo:%Y%m%d}-{hi:%Y%m%d}", "from": f"{lo:%Y%m%d}-", "until": f"-{hi:%Y%m%d}"}
    expected = {
        "closed": lo <= value <= hi,
        "from": lo <= value,
        "until": value <= hi,
    }[form]
    assert key("StudyDate", text[form]).matches(stored("DA", f"{value:%Y%m%d}")) is expected


@given(st.times(), st.times(), st.times())
def test_time_range_agrees_with_the_clock(a: dt.time, b: dt.time, value: dt.time) -> None:
    lo, hi = min(a, b), max(a, b)
    query = f"{lo:%H%M%S.%f}-{hi:%H%M%S.%f}"
    assert key("StudyTime", query).matches(stored("TM", f"{value:%H%M%S.%f}")) is (
        lo <= value <= hi
    )


@given(st.datetimes(dt.datetime(1901, 1, 1), dt.datetime(2099, 1, 1)), st.integers(-720, 840))
def test_datetime_offsets_agree_with_utc(moment: dt.datetime, minutes: int) -> None:
    """A DT with an offset sits where the same instant in UTC does."""
    sign = "+" if minutes >= 0 else "-"
    offset = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    local = f"{moment:%Y%m%d%H%M%S.%f}{offset}"
    utc = moment - dt.timedelta(minutes=minutes)
    assert point("DT", local) == f"{utc:%Y%m%d%H%M%S.%f}"


def test_bounds_are_canonical() -> None:
    assert value_bounds("DA", "2020") == ("20200101", "20201231")
    assert value_bounds("DA", "202002") == ("20200201", "20200229")
    assert value_bounds("TM", "10") == ("100000.000000", "105959.999999")
    assert value_bounds("DT", "2020") == ("20200101000000.000000", "20201231235959.999999")
    assert parse_range("DA", "-") == (None, None)


# -- combined date and time -----------------------------------------------------------------


def test_combined_datetime_range() -> None:
    """C.2.2.2.5.4 note: 20060705-20060707 with 1000-1800 is July 5 10:00 to July 7 18:00."""
    date, time = key("StudyDate", "20060705-20060707"), key("StudyTime", "1000-1800")
    pair = datetime_pair(date, time)
    assert pair is not None
    assert pair.matches(stored("DA", "20060706"), stored("TM", "0300"))  # not 10-18 daily
    assert pair.matches(stored("DA", "20060705"), stored("TM", "1000"))
    assert not pair.matches(stored("DA", "20060705"), stored("TM", "0959"))
    assert not pair.matches(stored("DA", "20060707"), stored("TM", "1801"))
    assert pair.matches(stored("DA", "20060707"), None)  # time unknown: the day decides
    assert pair.matches(None, None)  # date unknown: C.2.2.1.2
    # Separately (the default), July 6 03:00 fails the time range.
    assert not time.matches(stored("TM", "0300"))


def test_combined_needs_the_same_range_form() -> None:
    assert datetime_pair(key("StudyDate", "20060705-"), key("StudyTime", "-1800")) is None
    assert datetime_pair(key("StudyDate", "20060705"), key("StudyTime", "1000-1800")) is None
    open_pair = datetime_pair(key("StudyDate", "20060705-"), key("StudyTime", "1000-"))
    assert open_pair is not None
    assert open_pair.matches(stored("DA", "20300101"), stored("TM", "0000"))


# -- sequences ----------------------------------------------------------------------------


def _code_sequence(*codes: tuple[str, str]) -> dict[str, Any]:
    return {
        "vr": "SQ",
        "Value": [
            {
                "00080100": {"vr": "SH", "Value": [value]},
                "00080102": {"vr": "SH", "Value": [scheme]},
                "00080104": {"vr": "LO", "Value": [f"meaning {value}"]},
            }
            for value, scheme in codes
        ],
    }


def _sequence_key(**item_keys: Any) -> Matcher:
    ds = Dataset()
    item = Dataset()
    for keyword, value in item_keys.items():
        setattr(item, keyword, value)
    ds.ProcedureCodeSequence = [item] if item_keys or item_keys == {} else []
    return compile_key(ds["ProcedureCodeSequence"], empty_matches=True)


def test_sequence_matching_item_by_item() -> None:
    """C.2.2.2.6: all item keys must match within one item."""
    element = _code_sequence(("A1", "DCM"), ("B2", "SCT"))
    assert _sequence_key(CodeValue="B2", CodingSchemeDesignator="SCT").matches(element)
    assert not _sequence_key(CodeValue="B2", CodingSchemeDesignator="DCM").matches(element)
    assert _sequence_key(CodeValue="A*").matches(element)


def test_sequence_returns_matching_items_with_requested_keys() -> None:
    element = _code_sequence(("A1", "DCM"), ("B2", "SCT"))
    m = _sequence_key(CodeValue="B*", CodeMeaning="")
    assert m.select(element) == {
        "vr": "SQ",
        "Value": [
            {
                "00080100": {"vr": "SH", "Value": ["B2"]},
                "00080104": {"vr": "LO", "Value": ["meaning B2"]},
            }
        ],
    }


def test_sequence_universal_forms_return_everything() -> None:
    element = _code_sequence(("A1", "DCM"))
    empty_item = _sequence_key()
    assert empty_item.kind is MatchKind.UNIVERSAL
    assert empty_item.select(element) == element
    ds = Dataset()
    ds.ProcedureCodeSequence = []
    no_item = compile_key(ds["ProcedureCodeSequence"], empty_matches=True)
    assert no_item.universal and no_item.select(element) == element


def test_sequence_key_with_two_items_is_refused() -> None:
    ds = Dataset()
    ds.ProcedureCodeSequence = [Dataset(), Dataset()]
    with pytest.raises(IdentifierError):
        compile_key(ds["ProcedureCodeSequence"], empty_matches=True)


def test_regex_reference_escapes_everything_but_wildcards() -> None:
    assert wildcard_regex("a.b*").pattern == re.escape("a") + r"\." + "b.*"
