"""The SQLite index: 200 instances in, hierarchical queries at every level of every
model out, counts, retrieval sets, restart, removal, hierarchy changes, schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _qr_data import (
    CT,
    PROTOCOL_APPROVAL_STORAGE,
    corpus,
    identifier,
    instance,
    record,
    uid,
)
from pydicom.dataset import Dataset

from dimse.qr import sqlite as qr_sqlite
from dimse.qr.errors import HierarchyConflict, IdentifierError, IndexSchemaError
from dimse.qr.models import PATIENT_ROOT, PATIENT_STUDY_ONLY, PROTOCOL_APPROVAL, STUDY_ROOT, Level
from dimse.qr.query import MatchOptions
from dimse.qr.sqlite import SQLiteIndex


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "qr.sqlite"


@pytest.fixture
def index(db_path: Path) -> Iterator[SQLiteIndex]:
    idx = SQLiteIndex(db_path)
    for ds in corpus():
        ds.InstitutionName = f"Hospital {int(ds.PatientID[-1]) % 2}"
        idx.add(record(ds))
    yield idx
    idx.close()


def values(results: Any, keyword: str) -> list[Any]:
    return [ds.get(keyword) for ds in results]


def test_counts(index: SQLiteIndex) -> None:
    assert [index.count(lv) for lv in Level] == [5, 20, 40, 200]


# -- Patient Root, level by level -----------------------------------------------------------


def test_patient_level(index: SQLiteIndex) -> None:
    found = list(
        index.find(
            "PATIENT",
            identifier(
                "PATIENT",
                PatientName="doe*",
                PatientID="",
                PatientSex="",
                NumberOfPatientRelatedStudies="",
                NumberOfPatientRelatedSeries="",
                NumberOfPatientRelatedInstances="",
            ),
            PATIENT_ROOT,
        )
    )
    assert values(found, "PatientID") == ["PID000", "PID001"]
    assert [str(v) for v in values(found, "PatientName")] == ["DOE^JOHN", "Doe^Jane"]
    assert values(found, "PatientSex") == ["M", "F"]
    assert values(found, "NumberOfPatientRelatedStudies") == [4, 4]
    assert values(found, "NumberOfPatientRelatedSeries") == [8, 8]
    assert values(found, "NumberOfPatientRelatedInstances") == [40, 40]
    assert all(ds.QueryRetrieveLevel == "PATIENT" for ds in found)
    assert set(found[0].keys()) == {
        0x00080052,
        0x00100010,
        0x00100020,
        0x00100040,
        0x00201200,
        0x00201202,
        0x00201204,
    }


def test_study_level(index: SQLiteIndex) -> None:
    found = list(
        index.find(
            None,
            identifier(
                "STUDY",
                PatientID="PID001",
                StudyInstanceUID="",
                StudyDate="20200401-20201231",
                StudyTime="",
                AccessionNumber="",
                ModalitiesInStudy="",
                NumberOfStudyRelatedSeries="",
                NumberOfStudyRelatedInstances="",
                SOPClassesInStudy="",
            ),
            PATIENT_ROOT,
        )
    )
    assert values(found, "StudyInstanceUID") == [uid(1, 1), uid(1, 2), uid(1, 3)]
    assert values(found, "StudyDate") == ["20200411", "20200711", "20201011"]
    assert values(found, "AccessionNumber") == ["ACC11", "ACC12", "ACC13"]
    assert [list(v) for v in values(found, "ModalitiesInStudy")] == [
        ["MR", "PT"],
        ["PT", "US"],
        ["CT", "US"],
    ]
    assert values(found, "NumberOfStudyRelatedSeries") == [2, 2, 2]
    assert values(found, "NumberOfStudyRelatedInstances") == [10, 10, 10]
    assert values(found, "PatientID") == ["PID001"] * 3  # the level above's Unique Key
    assert "PatientName" not in found[0]  # not asked, not above: not returned


def test_series_level(index: SQLiteIndex) -> None:
    found = list(
        index.find(
            None,
            identifier(
                "SERIES",
                PatientID="PID002",
                StudyInstanceUID=uid(2, 0),
                SeriesInstanceUID="",
                Modality="",
                SeriesNumber="2",
                NumberOfSeriesRelatedInstances="",
                InstitutionName="",
            ),
            PATIENT_ROOT,
        )
    )
    assert values(found, "SeriesInstanceUID") == [uid(2, 0, 1)]
    assert values(found, "Modality") == ["MR"]
    assert values(found, "NumberOfSeriesRelatedInstances") == [5]
    assert values(found, "InstitutionName") == ["Hospital 0"]  # from the stored JSON


def test_image_level(index: SQLiteIndex) -> None:
    found = list(
        index.find(
            None,
            identifier(
                "IMAGE",
                PatientID="PID003",
                StudyInstanceUID=uid(3, 1),
                SeriesInstanceUID=uid(3, 1, 0),
                SOPInstanceUID="",
                InstanceNumber="4",
                SOPClassUID="",
                AvailableTransferSyntaxUID="",
            ),
            PATIENT_ROOT,
        )
    )
    assert values(found, "SOPInstanceUID") == [uid(3, 1, 0, 3)]
    assert values(found, "SOPClassUID") == ["1.2.840.10008.5.1.4.1.1.4"]
    assert values(found, "AvailableTransferSyntaxUID") == ["1.2.840.10008.1.2.1"]


def test_parent_unique_key_must_match(index: SQLiteIndex) -> None:
    """C.4.1.3.1.1 b/c: a parent that does not exist means no matches."""
    ds = identifier("SERIES", PatientID="PID000", StudyInstanceUID=uid(1, 0), SeriesInstanceUID="")
    assert list(index.find(None, ds, PATIENT_ROOT)) == []


def test_refused_identifier_raises_before_any_result(index: SQLiteIndex) -> None:
    with pytest.raises(IdentifierError):
        index.find(None, identifier("STUDY", PatientName="DOE*"), PATIENT_ROOT)


# -- Study Root, Patient/Study Only ---------------------------------------------------------


def test_study_root(index: SQLiteIndex) -> None:
    found = list(
        index.find(
            None,
            identifier(
                "STUDY",
                PatientName="*o*",
                ModalitiesInStudy="US",
                StudyInstanceUID="",
                PatientBirthDate="-19521231",
            ),
            STUDY_ROOT,
        )
    )
    # DOE^JOHN, Doe^Jane (born 1950, 1951) and their studies with an US series (2, 3).
    assert values(found, "StudyInstanceUID") == [uid(0, 2), uid(0, 3), uid(1, 2), uid(1, 3)]
    assert "PatientID" not in found[0]  # Study Root: no level above


def test_study_root_series_and_image_levels(index: SQLiteIndex) -> None:
    series = list(
        index.find(
            None, identifier("SERIES", StudyInstanceUID=uid(4, 3), SeriesInstanceUID=""), STUDY_ROOT
        )
    )
    assert values(series, "SeriesInstanceUID") == [uid(4, 3, 0), uid(4, 3, 1)]
    images = list(
        index.find(
            None,
            identifier("IMAGE", SeriesInstanceUID=uid(4, 3, 1), SOPInstanceUID=""),
            STUDY_ROOT,
        )
    )
    assert len(images) == 5
    assert values(images, "StudyInstanceUID") == [uid(4, 3)] * 5


def test_patient_study_only(index: SQLiteIndex) -> None:
    patients = list(
        index.find(
            None, identifier("PATIENT", PatientID="PID00?", PatientName=""), PATIENT_STUDY_ONLY
        )
    )
    assert len(patients) == 5
    studies = list(
        index.find(
            None,
            identifier("STUDY", PatientID="PID004", StudyInstanceUID="", StudyID="S3"),
            PATIENT_STUDY_ONLY,
        )
    )
    assert values(studies, "StudyInstanceUID") == [uid(4, 3)]


def test_relational_query(index: SQLiteIndex) -> None:
    """C.4.1.3.2: keys of the levels above select among all entities."""
    found = list(
        index.find(
            None,
            identifier(
                "SERIES",
                PatientName="SMITH*",
                StudyDate="202004-202007",
                Modality="PT",
                SeriesInstanceUID="",
            ),
            PATIENT_ROOT,
            MatchOptions(relational=True),
        )
    )
    assert values(found, "SeriesInstanceUID") == [uid(2, 1, 1), uid(2, 2, 0)]
    assert str(found[0].PatientName) == "SMITH^ANNA"
    assert values(found, "StudyInstanceUID") == [uid(2, 1), uid(2, 2)]


def test_combined_datetime_query(index: SQLiteIndex) -> None:
    ds = identifier(
        "STUDY", StudyDate="20200110-20200411", StudyTime="0900-0929", PatientID="PID000"
    )
    ds.StudyInstanceUID = ""
    separate = list(index.find(None, ds, PATIENT_ROOT))
    combined = list(index.find(None, ds, PATIENT_ROOT, MatchOptions(combined_datetime=True)))
    # Studies at 08:30 (Jan 10) and 09:30 (Apr 10): separately 09:00-09:29 matches neither;
    # combined, Jan 10 09:00 to Apr 11 09:29 contains Apr 10 09:30... but not Jan 10 08:30.
    assert values(separate, "StudyInstanceUID") == []
    assert values(combined, "StudyInstanceUID") == [uid(0, 1)]


# -- what the index returns -------------------------------------------------------------


def test_unsupported_keys_are_reported_not_returned(index: SQLiteIndex) -> None:
    results = index.find(
        None,
        identifier("STUDY", StudyInstanceUID=uid(0, 0), AnatomicRegionsInStudyCodeSequence=[]),
        STUDY_ROOT,
    )
    assert results.unsupported == ("AnatomicRegionsInStudyCodeSequence",)
    (found,) = list(results)
    assert "AnatomicRegionsInStudyCodeSequence" not in found


def test_non_ascii_answers_declare_utf8(index: SQLiteIndex) -> None:
    (found,) = list(
        index.find(None, identifier("PATIENT", PatientID="PID003", PatientName=""), PATIENT_ROOT)
    )
    assert str(found.PatientName) == "Müller^Jürgen"
    assert found.SpecificCharacterSet == "ISO_IR 192"
    (plain,) = list(
        index.find(None, identifier("PATIENT", PatientID="PID002", PatientName=""), PATIENT_ROOT)
    )
    assert "SpecificCharacterSet" not in plain


def test_sequences_are_matched_and_returned(tmp_path: Path) -> None:
    with SQLiteIndex(tmp_path / "seq.sqlite") as idx:
        for n, code in enumerate(["A1", "B2"]):
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "DCM", f"m{code}"
            idx.add(
                record(
                    instance(
                        SOPInstanceUID=uid(7, n),
                        StudyInstanceUID=uid(7, 0, n),
                        SeriesInstanceUID=uid(7, 0, n, 1),  # a series is in one study
                        ProcedureCodeSequence=[item],
                    )
                )
            )
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        wanted = Dataset()
        wanted.CodeValue = "B*"
        wanted.CodeMeaning = ""
        query.ProcedureCodeSequence = [wanted]
        (found,) = list(idx.find(None, query, STUDY_ROOT))
        assert found.StudyInstanceUID == uid(7, 0, 1)
        (item,) = found.ProcedureCodeSequence
        assert (item.CodeValue, item.CodeMeaning, "CodingSchemeDesignator" in item) == (
            "B2",
            "mB2",
            False,
        )


# -- C-GET / C-MOVE sets --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "model", "keys", "count"),
    [
        ("PATIENT", PATIENT_ROOT, {"PatientID": "PID001"}, 40),
        ("STUDY", PATIENT_ROOT, {"PatientID": "PID001", "StudyInstanceUID": uid(1, 2)}, 10),
        ("STUDY", STUDY_ROOT, {"StudyInstanceUID": [uid(1, 2), uid(3, 0)]}, 20),
        ("STUDY", STUDY_ROOT, {"StudyInstanceUID": uid(1, 2), "PatientName": "ignored"}, 10),
        ("STUDY", PATIENT_ROOT, {"PatientID": "PID000", "StudyInstanceUID": uid(1, 2)}, 0),
        ("SERIES", STUDY_ROOT, {"SeriesInstanceUID": uid(4, 0, 1)}, 5),
        ("IMAGE", STUDY_ROOT, {"SOPInstanceUID": [uid(4, 0, 1, 2), uid(0, 0, 0, 0), "9.9"]}, 2),
        ("PATIENT", PATIENT_STUDY_ONLY, {"PatientID": "PID004"}, 40),
    ],
)
def test_instances_for(
    index: SQLiteIndex, level: str, model: Any, keys: dict[str, Any], count: int
) -> None:
    found = list(index.instances_for(level, identifier(level, **keys), model))
    assert len(found) == count
    assert len({f.sop_instance_uid for f in found}) == count
    if found:
        _, sop_uid, syntax, path = found[0]
        assert syntax == "1.2.840.10008.1.2.1" and path == f"x/{sop_uid}"


# -- Protocol Approval: a flat model over its own instances ---------------------------------


def _approval(n: int, subject: str, when: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = PROTOCOL_APPROVAL_STORAGE
    ds.SOPInstanceUID = uid(8, n)
    ds.InstanceCreationDate, ds.InstanceCreationTime = when[:8], when[8:]
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.200.1"
    ref.ReferencedSOPInstanceUID = subject
    ds.ApprovalSubjectSequence = [ref]
    approval = Dataset()
    approval.AssertionUID = uid(8, n, 1)
    approval.AssertionDateTime = when
    ds.ApprovalSequence = [approval]
    return ds


def test_protocol_approval_queries(index: SQLiteIndex) -> None:
    index.add(record(_approval(1, "1.2.3.100", "20200101120000")))
    index.add(record(_approval(2, "1.2.3.200", "20200301090000")))
    subject = Dataset()
    subject.ReferencedSOPInstanceUID = ["1.2.3.200", "1.2.3.300"]
    query = identifier(None, SOPInstanceUID="", InstanceCreationDate="")
    query.ApprovalSubjectSequence = [subject]
    (found,) = list(index.find(None, query, PROTOCOL_APPROVAL))
    assert found.SOPInstanceUID == uid(8, 2)
    assert "QueryRetrieveLevel" not in found
    assert found.ApprovalSubjectSequence[0].ReferencedSOPInstanceUID == "1.2.3.200"
    # Instance Creation Date and Time are one DateTime here (Table II.6-1).
    when = identifier(
        None,
        SOPInstanceUID="",
        InstanceCreationDate="20200101-20200301",
        InstanceCreationTime="1300-0800",
    )
    assert values(index.find(None, when, PROTOCOL_APPROVAL), "SOPInstanceUID") == []
    when.InstanceCreationTime = "1100-0900"
    assert values(index.find(None, when, PROTOCOL_APPROVAL), "SOPInstanceUID") == [
        uid(8, 1),
        uid(8, 2),
    ]
    # Approvals are outside the patient hierarchy, and CT images outside this model.
    assert index.count(Level.IMAGE) == 202 and index.count(Level.SERIES) == 40
    everything = identifier(None, SOPInstanceUID="")
    assert len(list(index.find(None, everything, PROTOCOL_APPROVAL))) == 2
    moved = list(
        index.instances_for(
            None, identifier(None, SOPInstanceUID=[uid(8, 1), uid(0, 0, 0, 0)]), PROTOCOL_APPROVAL
        )
    )
    assert [m.sop_instance_uid for m in moved] == [uid(8, 1)]


# -- restart, removal, hierarchy changes ----------------------------------------------------

QUERIES = [
    ("PATIENT", PATIENT_ROOT, {"PatientName": "*", "NumberOfPatientRelatedInstances": ""}),
    (
        "STUDY",
        STUDY_ROOT,
        {"StudyDate": "2020-", "ModalitiesInStudy": "CT", "StudyInstanceUID": ""},
    ),
    (
        "IMAGE",
        STUDY_ROOT,
        {"SeriesInstanceUID": uid(2, 2, 1), "SOPInstanceUID": "", "InstanceNumber": ""},
    ),
]


def _answers(idx: SQLiteIndex) -> list[list[str]]:
    return [
        [ds.to_json() for ds in idx.find(None, identifier(level, **keys), model)]
        for level, model, keys in QUERIES
    ]


def test_restart_gives_the_same_answers(index: SQLiteIndex, db_path: Path) -> None:
    before = _answers(index)
    assert all(before)
    index.close()
    with SQLiteIndex(db_path) as reopened:
        assert reopened.schema_version == qr_sqlite.SCHEMA_VERSION
        assert _answers(reopened) == before
        assert [reopened.count(lv) for lv in Level] == [5, 20, 40, 200]
    mode = sqlite3.connect(db_path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_removal_updates_counts_and_drops_empty_parents(index: SQLiteIndex) -> None:
    for i in range(5):
        removed = index.remove(uid(0, 0, 0, i))
        assert removed is not None and removed.sop_instance_uid == uid(0, 0, 0, i)
    assert index.remove(uid(0, 0, 0, 0)) is None
    assert [index.count(lv) for lv in Level] == [5, 20, 39, 195]
    (study,) = list(
        index.find(
            None,
            identifier(
                "STUDY",
                StudyInstanceUID=uid(0, 0),
                NumberOfStudyRelatedSeries="",
                ModalitiesInStudy="",
            ),
            STUDY_ROOT,
        )
    )
    assert study.NumberOfStudyRelatedSeries == 1
    assert study.ModalitiesInStudy == "MR"
    for s in range(4):
        for r in range(2):
            for i in range(5):
                index.remove(uid(0, s, r, i))
    assert [index.count(lv) for lv in Level] == [4, 16, 32, 160]


def test_newest_instance_represents_its_entities(index: SQLiteIndex) -> None:
    """A re-sent or corrected instance updates the patient's attributes; removing it
    restores the previous newest instance's."""
    newer = instance(
        PatientID="PID000",
        PatientName="DOE^JOHNNY",
        StudyInstanceUID=uid(0, 0),
        SeriesInstanceUID=uid(0, 0, 0),
        SOPInstanceUID=uid(0, 0, 0, 99),
    )
    index.add(record(newer))
    ask = identifier("PATIENT", PatientID="PID000", PatientName="")
    assert str(next(index.find(None, ask, PATIENT_ROOT)).PatientName) == "DOE^JOHNNY"
    index.remove(uid(0, 0, 0, 99))
    assert str(next(index.find(None, ask, PATIENT_ROOT)).PatientName) == "DOE^JOHN"


def test_study_moves_with_its_newest_instance(index: SQLiteIndex) -> None:
    moved = instance(
        PatientID="NEW",
        PatientName="NEW^PATIENT",
        StudyInstanceUID=uid(4, 0),
        SeriesInstanceUID=uid(4, 0, 0),
        SOPInstanceUID=uid(4, 0, 0, 0),  # a re-send of an existing instance
    )
    index.add(record(moved))
    assert index.count(Level.IMAGE) == 200 and index.count(Level.PATIENT) == 6
    get = identifier("STUDY", PatientID="NEW", StudyInstanceUID=uid(4, 0))
    assert len(list(index.instances_for(None, get, PATIENT_ROOT))) == 10
    old = identifier("PATIENT", PatientID="PID004", NumberOfPatientRelatedStudies="")
    assert next(index.find(None, old, PATIENT_ROOT)).NumberOfPatientRelatedStudies == 3


def test_duplicate_sop_instance_replaces(index: SQLiteIndex) -> None:
    ds = next(iter(corpus(1, 1, 1, 1)))
    index.add(record(ds, path="elsewhere"))
    assert index.count(Level.IMAGE) == 200
    location = index.get(ds.SOPInstanceUID)
    assert location is not None and location.path == "elsewhere"


def test_failed_add_leaves_nothing(index: SQLiteIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    real = SQLiteIndex._upsert

    def failing(self: SQLiteIndex, cur: Any, level: Level, *args: Any) -> int:
        if level is Level.SERIES:
            raise RuntimeError("crash in the middle of the transaction")
        return real(self, cur, level, *args)

    monkeypatch.setattr(SQLiteIndex, "_upsert", failing)
    with pytest.raises(RuntimeError):
        index.add(
            record(instance(PatientID="X", StudyInstanceUID=uid(99), SOPInstanceUID=uid(99, 1)))
        )
    assert [index.count(lv) for lv in Level] == [5, 20, 40, 200]
    assert index.get(uid(99, 1)) is None


# -- schema -------------------------------------------------------------------------------


def test_foreign_or_newer_databases_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE instance (x)").connection.commit()
    with pytest.raises(IndexSchemaError, match="not a dimse index"):
        SQLiteIndex(foreign)
    newer = tmp_path / "newer.sqlite"
    SQLiteIndex(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(IndexSchemaError, match="newer"):
        SQLiteIndex(newer)


def test_migration_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.sqlite"
    with SQLiteIndex(path) as idx:
        idx.add(record(instance()))
    calls = []

    def to_v2(conn: sqlite3.Connection) -> None:
        calls.append(1)
        conn.execute("ALTER TABLE series ADD COLUMN body_part TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(qr_sqlite, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(qr_sqlite.MIGRATIONS, 1, to_v2)
    with SQLiteIndex(path) as idx:
        assert idx.schema_version == 2 and idx.count() == 1
    with SQLiteIndex(path) as idx:
        assert idx.schema_version == 2
    assert calls == [1]
    monkeypatch.setattr(qr_sqlite, "SCHEMA_VERSION", 3)
    with pytest.raises(IndexSchemaError, match="no migration from schema 2"):
        SQLiteIndex(path)


def test_instances_without_the_hierarchy_are_indexed_flat(tmp_path: Path) -> None:
    with SQLiteIndex(":memory:") as idx:
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = CT, uid(5)
        idx.add(record(ds))
        assert idx.count(Level.IMAGE) == 1 and idx.count(Level.SERIES) == 0
        assert idx.get(uid(5)) is not None
        assert list(idx.find(None, identifier("IMAGE", SOPInstanceUID=uid(5)), STUDY_ROOT)) == []
        with pytest.raises(ValueError, match="no SOP Instance UID"):
            record(Dataset(), path="nowhere")


def test_a_series_is_not_moved_to_another_study(index: SQLiteIndex) -> None:
    """Series uid(0,0,0) holds 5 instances of study uid(0,0): an instance claiming that
    series for study uid(0,1) is refused and changes nothing (else C-GET of either study
    would deliver instances whose own Study Instance UID says otherwise)."""
    intruder = instance(
        PatientID="PID000",
        StudyInstanceUID=uid(0, 1),
        SeriesInstanceUID=uid(0, 0, 0),
        SOPInstanceUID=uid(0, 9, 9, 9),
    )
    with pytest.raises(HierarchyConflict, match=f"filed under study {uid(0, 0)}"):
        index.add(record(intruder))
    assert index.count(Level.IMAGE) == 200 and index.get(uid(0, 9, 9, 9)) is None
    for study in (uid(0, 0), uid(0, 1)):
        get = identifier("STUDY", StudyInstanceUID=study)
        assert len(list(index.instances_for(None, get, STUDY_ROOT))) == 10


def test_the_only_instance_of_a_series_may_be_refiled(index: SQLiteIndex) -> None:
    """A re-send of a series' only instance under a corrected study is no conflict: the
    old copy goes first, and with it the series."""
    alone = instance(
        StudyInstanceUID=uid(0, 0), SeriesInstanceUID=uid(7, 7), SOPInstanceUID=uid(7, 7, 1)
    )
    index.add(record(alone))
    alone.StudyInstanceUID = uid(0, 1)
    index.add(record(alone))
    get = identifier("SERIES", StudyInstanceUID=uid(0, 1), SeriesInstanceUID=uid(7, 7))
    found = [i.sop_instance_uid for i in index.instances_for(None, get, STUDY_ROOT)]
    assert found == [uid(7, 7, 1)]
    assert index.count(Level.IMAGE) == 201
