"""Identifier validation: which requests an SCP answers, and which it refuses with
A900 (IdentifierError) or Cxxx (UnableToProcess). PS3.4 C.4.1.2.1, C.4.1.3, C.4.2."""

from __future__ import annotations

import pytest
from _qr_data import identifier
from pydicom.dataset import Dataset

from dimse import sop_classes as sc
from dimse.qr.errors import IdentifierError, UnableToProcess
from dimse.qr.models import PATIENT_ROOT, PATIENT_STUDY_ONLY, PROTOCOL_APPROVAL, STUDY_ROOT, Level
from dimse.qr.query import MatchOptions, compile_find, compile_retrieve

QR_LEVEL = 0x00080052


def keywords(query: object) -> dict[str, tuple[Level, bool]]:
    return {k.keyword: (k.level, k.match) for k in query.keys}  # type: ignore[attr-defined]


# -- level --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ds", "model", "message"),
    [
        (identifier(None, PatientName="X"), PATIENT_ROOT, "missing"),
        (identifier("", PatientName="X"), PATIENT_ROOT, "missing"),
        (identifier("WARD", PatientName="X"), PATIENT_ROOT, "not a Query/Retrieve Level"),
        (identifier("PATIENT", PatientName="X"), STUDY_ROOT, "no PATIENT level"),
        (identifier("SERIES", SeriesInstanceUID=""), PATIENT_STUDY_ONLY, "no SERIES level"),
    ],
)
def test_bad_levels(ds: Dataset, model: object, message: str) -> None:
    with pytest.raises(IdentifierError, match=message) as info:
        compile_find(ds, model)  # type: ignore[arg-type]
    assert info.value.offending == (QR_LEVEL,)


def test_level_argument_must_agree_with_the_identifier() -> None:
    ds = identifier("STUDY", StudyInstanceUID="")
    assert compile_find(ds, STUDY_ROOT, "STUDY").level is Level.STUDY
    assert compile_find(identifier(None, StudyInstanceUID=""), STUDY_ROOT, Level.STUDY).level
    with pytest.raises(IdentifierError):
        compile_find(ds, STUDY_ROOT, "SERIES")


def test_model_by_sop_class_uid() -> None:
    query = compile_find(
        identifier("STUDY", StudyInstanceUID=""), sc.StudyRootQueryRetrieveInformationModelFind
    )
    assert query.model is STUDY_ROOT
    with pytest.raises(IdentifierError, match="not a Query/Retrieve SOP Class"):
        compile_find(identifier("STUDY"), sc.CTImageStorage)


# -- hierarchical keys ----------------------------------------------------------------------


def test_hierarchical_query_levels_of_keys() -> None:
    query = compile_find(
        identifier(
            "SERIES",
            PatientID="P1",
            StudyInstanceUID="1.2.3",
            SeriesInstanceUID="",
            Modality="CT",
            BodyPartExamined="",
        ),
        PATIENT_ROOT,
    )
    assert keywords(query) == {
        "PatientID": (Level.PATIENT, True),
        "StudyInstanceUID": (Level.STUDY, True),
        "SeriesInstanceUID": (Level.SERIES, True),
        "Modality": (Level.SERIES, True),
        "BodyPartExamined": (Level.SERIES, True),  # "all other attributes" of the level
    }
    unique = {k.keyword: k.matcher.empty_matches for k in query.keys}
    assert unique["PatientID"] is False and unique["Modality"] is True


def test_missing_parent_unique_keys_are_returned_not_matched() -> None:
    """C.4.1.3.1.1: responses carry the Unique Keys of the levels above."""
    query = compile_find(identifier("IMAGE", SOPInstanceUID=""), PATIENT_ROOT)
    assert keywords(query) == {
        "SOPInstanceUID": (Level.IMAGE, True),
        "PatientID": (Level.PATIENT, False),
        "StudyInstanceUID": (Level.STUDY, False),
        "SeriesInstanceUID": (Level.SERIES, False),
    }


@pytest.mark.parametrize(
    ("model", "level", "keys", "message"),
    [
        (PATIENT_ROOT, "STUDY", {"PatientName": "DOE*"}, "only Unique Keys above"),
        (STUDY_ROOT, "SERIES", {"StudyDate": "20200101"}, "only Unique Keys above"),
        (PATIENT_ROOT, "STUDY", {"Modality": "CT"}, "SERIES key in a STUDY query"),
        (STUDY_ROOT, "STUDY", {"SOPInstanceUID": "1.2"}, "IMAGE key in a STUDY query"),
    ],
)
def test_baseline_refuses_keys_at_the_wrong_level(
    model: object, level: str, keys: dict[str, object], message: str
) -> None:
    ds = identifier(level, **keys)
    with pytest.raises(IdentifierError, match=message) as info:
        compile_find(ds, model)  # type: ignore[arg-type]
    assert len(info.value.offending) == 1
    lenient = compile_find(ds, model, options=MatchOptions(strict=False))  # type: ignore[arg-type]
    assert lenient.unsupported == tuple(keys)
    assert not set(keys) & set(keywords(lenient))


@pytest.mark.parametrize(
    "keys", [{"StudyInstanceUID": ["1.2", "1.3"]}, {"PatientID": "P*", "StudyInstanceUID": ""}]
)
def test_parent_unique_key_takes_a_single_value(keys: dict[str, object]) -> None:
    """C.4.1.2.1; lenient, a list or wild card there is matched as given (it can only
    narrow the answer)."""
    ds = identifier("SERIES", **keys)
    with pytest.raises(IdentifierError, match="one value"):
        compile_find(ds, PATIENT_ROOT)
    lenient = compile_find(ds, PATIENT_ROOT, options=MatchOptions(strict=False))
    assert lenient.unsupported == ()
    assert all(keywords(lenient)[k][1] for k in keys)


def test_relational_queries_match_keys_of_any_level_above() -> None:
    """C.4.1.3.2: relational-queries negotiated, any key at or above the level."""
    options = MatchOptions(relational=True)
    query = compile_find(
        identifier("SERIES", PatientName="DOE*", StudyDate="2020-", Modality="CT"),
        PATIENT_ROOT,
        options=options,
    )
    found = keywords(query)
    assert found["PatientName"] == (Level.PATIENT, True)
    assert found["StudyDate"] == (Level.STUDY, True)
    with pytest.raises(IdentifierError):  # below the level: still refused
        compile_find(identifier("STUDY", Modality="CT"), PATIENT_ROOT, options=options)


def test_non_keys_are_not_matched_and_private_tags_are_unsupported() -> None:
    ds = identifier("STUDY", StudyInstanceUID="", SpecificCharacterSet="ISO_IR 100")
    ds.add_new(0x00080201, "SH", "+0100")  # Timezone Offset From UTC
    ds.add_new(0x00090010, "LO", "ACME")
    ds.add_new(0x00091001, "LO", "x")
    query = compile_find(ds, STUDY_ROOT)
    assert set(keywords(query)) == {"StudyInstanceUID"}
    assert query.unsupported == ("00090010", "00091001")


def test_combined_datetime_only_when_negotiated_or_mandated() -> None:
    ds = identifier("STUDY", StudyDate="20060705-20060707", StudyTime="1000-1800")
    assert compile_find(ds, STUDY_ROOT).pairs == ()
    query = compile_find(ds, STUDY_ROOT, options=MatchOptions(combined_datetime=True))
    ((date, time, pair),) = query.pairs
    assert (date.keyword, time.keyword, date.match, time.match) == (
        "StudyDate",
        "StudyTime",
        False,
        False,
    )
    assert (pair.lo, pair.hi) == ("20060705100000.000000", "20060707180059.999999")
    approval = identifier(None, InstanceCreationDate="20200101-", InstanceCreationTime="1200-")
    assert compile_find(approval, PROTOCOL_APPROVAL).pairs  # Annex II mandates it


def test_bad_values_are_unable_to_process() -> None:
    with pytest.raises(UnableToProcess) as info:
        compile_find(identifier("STUDY", StudyDate="20201301-"), STUDY_ROOT)
    assert info.value.offending == (0x00080020,)


def test_flat_model_ignores_level() -> None:
    ds = identifier("IMAGE", SOPInstanceUID="", ProtocolName="x")
    query = compile_find(ds, PROTOCOL_APPROVAL)
    assert query.level is Level.IMAGE
    assert set(keywords(query)) == {"SOPInstanceUID", "ProtocolName"}


# -- retrieval ----------------------------------------------------------------------------


def test_retrieve_uses_unique_keys_only() -> None:
    """C.4.2.1.4.1: Unique Keys select; other keys (often copied from a C-FIND
    response) are ignored, not refused."""
    ds = identifier(
        "SERIES",
        PatientID="P1",
        StudyInstanceUID="1.2",
        SeriesInstanceUID=["1.2.1", "1.2.2"],
        PatientName="DOE^JOHN",
        Modality="CT",
    )
    query = compile_retrieve(ds, PATIENT_ROOT)
    assert query.level is Level.SERIES
    assert query.uids == (
        (Level.PATIENT, ("P1",)),
        (Level.STUDY, ("1.2",)),
        (Level.SERIES, ("1.2.1", "1.2.2")),
    )
    assert query.ignored == ("Modality", "PatientName")


@pytest.mark.parametrize(
    ("ds", "model", "message"),
    [
        (identifier("STUDY", PatientID="P1"), PATIENT_ROOT, "StudyInstanceUID is required"),
        (identifier("STUDY", StudyInstanceUID=""), STUDY_ROOT, "StudyInstanceUID is required"),
        (identifier("PATIENT", PatientID=["A", "B"]), PATIENT_ROOT, "Single Value"),
        (
            identifier("STUDY", StudyInstanceUID="1.2", SeriesInstanceUID="1.2.3"),
            STUDY_ROOT,
            "SERIES key in a STUDY retrieve",
        ),
        (identifier(None, StudyInstanceUID="1.2"), STUDY_ROOT, "missing"),
        (identifier(None, ProtocolName="x"), PROTOCOL_APPROVAL, "SOPInstanceUID is required"),
    ],
)
def test_retrieve_refusals(ds: Dataset, model: object, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        compile_retrieve(ds, model)  # type: ignore[arg-type]


def test_retrieve_in_the_flat_model_ignores_the_level() -> None:
    query = compile_retrieve(identifier("IMAGE", SOPInstanceUID=["1.2", "1.3"]), PROTOCOL_APPROVAL)
    assert query.uids == ((Level.IMAGE, ("1.2", "1.3")),)
    assert query.ignored == ()
