"""How the SQLite index maps attributes to columns and request keys to SQL.

:data:`CATALOG` lists the searchable attributes, each on the table of its level with a
raw column (returned as is) and, except identities, a ``_k`` column the prefilter
compares: the single value itself, the case-folded alphabetic group of a PN, the
canonical form of a date or time (see :func:`dimse.qr.matching.value_bounds`), an
integer; ``''`` when empty and NULL when SQL cannot decide (several values, a value
that does not parse). :func:`condition` turns a compiled key into a WHERE term that
never rejects a row the Python matcher would accept: where SQL cannot be as precise
it is looser (NULL and, for non-Unique keys, ``''`` always pass) or absent.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from pydicom.datadict import dictionary_VR, tag_for_keyword

from dimse.qr import dicomjson
from dimse.qr.dicomjson import JsonDataset, JsonElement
from dimse.qr.matching import (
    WILDCARD_VRS,
    DateTimeMatcher,
    Matcher,
    MatchKind,
    has_wildcard,
    normalise_pn,
    point,
)
from dimse.qr.models import ComputedKey, Level
from dimse.qr.query import QueryKey

__all__ = [
    "ALIAS",
    "BY_KEYWORD",
    "CATALOG",
    "COMPUTED",
    "COMPUTED_VR",
    "FROM",
    "IDENTITY",
    "IN_LIST",
    "NEWEST",
    "PARENT",
    "TABLE",
    "UP",
    "Column",
    "cells",
    "column_element",
    "computed_element",
    "condition",
    "ddl",
    "pair_condition",
    "range_sql",
]


@attrs.frozen
class Column:
    """A searchable attribute with columns on its level's table.

    kind: ``id`` (the raw value only, compared as is: identities and UIDs), ``text``,
    ``pn``, ``date``, ``time``, ``int`` (a raw column plus a normalised ``_k`` column).
    """

    keyword: str
    level: Level
    name: str
    kind: str
    tag: int = attrs.field(init=False)
    vr: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        tag = tag_for_keyword(self.keyword)
        assert tag is not None, self.keyword
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "vr", dictionary_VR(tag))

    @property
    def key(self) -> str:
        return dicomjson.tag_key(self.tag)


CATALOG: tuple[Column, ...] = (
    Column("PatientID", Level.PATIENT, "patient_id", "id"),
    Column("PatientName", Level.PATIENT, "patient_name", "pn"),
    Column("IssuerOfPatientID", Level.PATIENT, "issuer_of_patient_id", "text"),
    Column("PatientBirthDate", Level.PATIENT, "patient_birth_date", "date"),
    Column("PatientSex", Level.PATIENT, "patient_sex", "text"),
    Column("StudyInstanceUID", Level.STUDY, "study_instance_uid", "id"),
    Column("StudyDate", Level.STUDY, "study_date", "date"),
    Column("StudyTime", Level.STUDY, "study_time", "time"),
    Column("AccessionNumber", Level.STUDY, "accession_number", "text"),
    Column("StudyID", Level.STUDY, "study_id", "text"),
    Column("ReferringPhysicianName", Level.STUDY, "referring_physician_name", "pn"),
    Column("StudyDescription", Level.STUDY, "study_description", "text"),
    Column("SeriesInstanceUID", Level.SERIES, "series_instance_uid", "id"),
    Column("Modality", Level.SERIES, "modality", "text"),
    Column("SeriesNumber", Level.SERIES, "series_number", "int"),
    Column("SeriesDescription", Level.SERIES, "series_description", "text"),
    Column("SOPInstanceUID", Level.IMAGE, "sop_instance_uid", "id"),
    Column("SOPClassUID", Level.IMAGE, "sop_class_uid", "id"),
    Column("InstanceNumber", Level.IMAGE, "instance_number", "int"),
)
BY_KEYWORD = {c.keyword: c for c in CATALOG}
TABLE = {
    Level.PATIENT: "patient",
    Level.STUDY: "study",
    Level.SERIES: "series",
    Level.IMAGE: "instance",
}
ALIAS = {Level.PATIENT: "p", Level.STUDY: "st", Level.SERIES: "se", Level.IMAGE: "i"}
IDENTITY = {
    Level.PATIENT: BY_KEYWORD["PatientID"],
    Level.STUDY: BY_KEYWORD["StudyInstanceUID"],
    Level.SERIES: BY_KEYWORD["SeriesInstanceUID"],
    Level.IMAGE: BY_KEYWORD["SOPInstanceUID"],
}
PARENT = {Level.STUDY: "patient_pk", Level.SERIES: "study_pk", Level.IMAGE: "series_pk"}
UP = {Level.STUDY: Level.PATIENT, Level.SERIES: Level.STUDY, Level.IMAGE: Level.SERIES}
FROM = {
    Level.PATIENT: "patient p",
    Level.STUDY: "study st JOIN patient p ON st.patient_pk = p.pk",
    Level.SERIES: "series se JOIN study st ON se.study_pk = st.pk "
    "JOIN patient p ON st.patient_pk = p.pk",
    Level.IMAGE: "instance i JOIN series se ON i.series_pk = se.pk "
    "JOIN study st ON se.study_pk = st.pk JOIN patient p ON st.patient_pk = p.pk",
}
# The newest instance under an entity: what its representative is.
NEWEST = {
    Level.SERIES: "SELECT max(pk) FROM instance WHERE series_pk = ?",
    Level.STUDY: "SELECT max(i.pk) FROM instance i JOIN series se ON i.series_pk = se.pk "
    "WHERE se.study_pk = ?",
    Level.PATIENT: "SELECT max(i.pk) FROM instance i JOIN series se ON i.series_pk = se.pk "
    "JOIN study st ON se.study_pk = st.pk WHERE st.patient_pk = ?",
}
IN_LIST = "(SELECT value FROM json_each(?))"
_STUDY_INSTANCES = "instance i2 JOIN series s2 ON i2.series_pk = s2.pk"
# PS3.4 Table C.3-1, derived per entity: (level whose alias it needs, SQL).
COMPUTED: dict[ComputedKey, tuple[Level, str]] = {
    ComputedKey.NumberOfPatientRelatedStudies: (
        Level.PATIENT,
        "(SELECT count(*) FROM study t2 WHERE t2.patient_pk = p.pk)",
    ),
    ComputedKey.NumberOfPatientRelatedSeries: (
        Level.PATIENT,
        "(SELECT count(*) FROM series s2 JOIN study t2 ON s2.study_pk = t2.pk "
        "WHERE t2.patient_pk = p.pk)",
    ),
    ComputedKey.NumberOfPatientRelatedInstances: (
        Level.PATIENT,
        f"(SELECT count(*) FROM {_STUDY_INSTANCES} JOIN study t2 ON s2.study_pk = t2.pk "
        "WHERE t2.patient_pk = p.pk)",
    ),
    ComputedKey.NumberOfStudyRelatedSeries: (
        Level.STUDY,
        "(SELECT count(*) FROM series s2 WHERE s2.study_pk = st.pk)",
    ),
    ComputedKey.NumberOfStudyRelatedInstances: (
        Level.STUDY,
        f"(SELECT count(*) FROM {_STUDY_INSTANCES} WHERE s2.study_pk = st.pk)",
    ),
    ComputedKey.ModalitiesInStudy: (
        Level.STUDY,
        "(SELECT group_concat(m, char(92)) FROM (SELECT DISTINCT s2.modality AS m "
        "FROM series s2 WHERE s2.study_pk = st.pk AND s2.modality != '' ORDER BY m))",
    ),
    ComputedKey.SOPClassesInStudy: (
        Level.STUDY,
        f"(SELECT group_concat(c, char(92)) FROM (SELECT DISTINCT i2.sop_class_uid AS c "
        f"FROM {_STUDY_INSTANCES} WHERE s2.study_pk = st.pk ORDER BY c))",
    ),
    ComputedKey.NumberOfSeriesRelatedInstances: (
        Level.SERIES,
        "(SELECT count(*) FROM instance i2 WHERE i2.series_pk = se.pk)",
    ),
    ComputedKey.AvailableTransferSyntaxUID: (Level.IMAGE, "i.transfer_syntax"),
}
COMPUTED_VR = {
    ComputedKey.ModalitiesInStudy: "CS",
    ComputedKey.SOPClassesInStudy: "UI",
    ComputedKey.AvailableTransferSyntaxUID: "UI",
}


def ddl() -> list[str]:
    statements = ["CREATE TABLE schema_version (version INTEGER NOT NULL)"]
    for level in Level:
        table = TABLE[level]
        cols = ["pk INTEGER PRIMARY KEY"]
        if level is not Level.IMAGE:
            cols.append("rep INTEGER NOT NULL")
        if level in PARENT:
            null = "" if level is Level.IMAGE else " NOT NULL"
            cols.append(f"{PARENT[level]} INTEGER{null}")
        indexes = [PARENT[level]] if level in PARENT else []
        for column in CATALOG:
            if column.level is not level:
                continue
            if column.kind == "id":
                unique = " UNIQUE" if IDENTITY[level] is column else ""
                cols.append(f"{column.name} TEXT NOT NULL{unique}")
                if not unique:
                    indexes.append(column.name)
            else:
                cols += [f"{column.name} TEXT NOT NULL DEFAULT ''", f"{column.name}_k"]
                indexes.append(f"{column.name}_k")
        if level is Level.IMAGE:
            cols += [
                "transfer_syntax TEXT NOT NULL",
                "path TEXT NOT NULL",
                "size INTEGER NOT NULL DEFAULT 0",
                "mtime_ns INTEGER NOT NULL DEFAULT 0",
                "attributes BLOB NOT NULL",
            ]
        statements.append(f"CREATE TABLE {table} ({', '.join(cols)})")
        statements += [f"CREATE INDEX {table}_{c} ON {table} ({c})" for c in indexes]
    return statements


def _key_value(kind: str, values: list[str]) -> Any:
    if not values:
        return ""
    if len(values) > 1:
        return None
    value = values[0]
    if kind == "pn":
        return normalise_pn(value, fold=True)
    if kind == "date":
        return point("DA", value)
    if kind == "time":
        return point("TM", value)
    if kind == "int":
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None
    return value


def cells(data: JsonDataset, level: Level) -> dict[str, Any]:
    """Column values of ``level``'s table for an instance's attributes."""
    cells: dict[str, Any] = {}
    for column in CATALOG:
        if column.level is not level:
            continue
        values = [str(v) for v in dicomjson.element_values(data.get(column.key))]
        raw = "\\".join(values)
        if column.kind == "id":
            cells[column.name] = raw.strip()
        else:
            cells[column.name] = raw
            cells[f"{column.name}_k"] = _key_value(column.kind, values)
    return cells


def column_element(column: Column, raw: str) -> JsonElement | None:
    if not raw:
        return None
    values = [raw] if column.kind == "id" else raw.split("\\")
    return {"vr": column.vr, "Value": values}


def _glob(pattern: str) -> str:
    return pattern.replace("[", "[[]")


def _term(column: Column, expr: str, matcher: Matcher, value: Any) -> tuple[str, Any] | None:
    """SQL for one request value on one column, or None when SQL cannot narrow it."""
    text = str(value)
    if column.kind in ("id", "text"):
        if column.vr in WILDCARD_VRS and has_wildcard(text):
            return f"{expr} GLOB ?", _glob(text)
        return f"{expr} = ?", text
    if column.kind == "pn":
        alpha = text.split("=")[0].rstrip("^ ")
        if not alpha or (not matcher.fold_pn and "?" in alpha):
            return None
        alpha = alpha.casefold()
        return (f"{expr} GLOB ?", _glob(alpha)) if has_wildcard(alpha) else (f"{expr} = ?", alpha)
    if column.kind == "int":
        try:
            number = float(text)
        except ValueError:
            return None
        return (f"{expr} = ?", int(number)) if number.is_integer() else None
    return None


def range_sql(expr: str, lo: str | None, hi: str | None) -> tuple[str, list[Any]] | None:
    if lo is None and hi is None:
        return None
    if lo is None:
        return f"{expr} <= ?", [hi]
    if hi is None:
        return f"{expr} >= ?", [lo]
    return f"{expr} BETWEEN ? AND ?", [lo, hi]


def condition(
    column: Column, alias: str, matcher: Matcher, empty_matches: bool
) -> tuple[str, list[Any]] | None:
    if matcher.universal or matcher.kind is MatchKind.SEQUENCE or matcher.vr != column.vr:
        return None
    raw = f"{alias}.{column.name}"
    expr = raw if column.kind == "id" else f"{raw}_k"
    terms: list[str] = []
    params: list[Any] = []
    if column.kind in ("date", "time"):
        for lo, hi in matcher.bounds:
            sql = range_sql(expr, lo, hi)
            if sql is None:
                return None
            terms.append(sql[0])
            params += sql[1]
    else:
        exact: list[Any] = []
        for value in matcher.values:
            term = _term(column, expr, matcher, value)
            if term is None:
                return None
            if term[0].endswith("= ?"):
                exact.append(term[1])
            else:
                terms.append(term[0])
                params.append(term[1])
        if len(exact) == 1:
            terms.append(f"{expr} = ?")
            params.append(exact[0])
        elif exact:
            terms.append(f"{expr} IN {IN_LIST}")
            params.append(json.dumps(exact))
    if column.kind != "id":
        terms.append(f"{expr} IS NULL")
    if empty_matches:
        terms.append(f"{expr} = ''")
    return "(" + " OR ".join(terms) + ")", params


def pair_condition(
    date: QueryKey, chain: tuple[Level, ...], pair: DateTimeMatcher
) -> tuple[str, list[Any]] | None:
    column = BY_KEYWORD.get(date.keyword)
    if column is None or column.level not in chain or column.kind != "date":
        return None
    expr = f"{ALIAS[column.level]}.{column.name}_k"
    sql = range_sql(
        expr,
        pair.lo[:8] if pair.lo is not None else None,
        pair.hi[:8] if pair.hi is not None else None,
    )
    if sql is None:
        return None
    empty = f" OR {expr} = ''" if date.matcher.empty_matches else ""
    return f"({sql[0]} OR {expr} IS NULL{empty})", sql[1]


def computed_element(key: ComputedKey, value: Any) -> JsonElement:
    vr = COMPUTED_VR.get(key)
    if vr is None:
        return {"vr": "IS", "Value": [int(value or 0)]}
    values = sorted({v for v in str(value or "").split("\\") if v})
    return {"vr": vr, "Value": values} if values else {"vr": vr}
