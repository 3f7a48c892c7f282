"""The information models as PS3.4 tables them (C.6.1, C.6.2, C.6.3, Annex II)."""

from __future__ import annotations

import pytest
from pydicom.datadict import tag_for_keyword

from dimse import sop_classes as sc
from dimse.qr.models import (
    MODELS,
    PATIENT_ROOT,
    PATIENT_STUDY_ONLY,
    PROTOCOL_APPROVAL,
    STUDY_ROOT,
    ComputedKey,
    InformationModel,
    Key,
    KeyType,
    Level,
    model_for,
)


def _keywords(keys: tuple[Key, ...], type_: KeyType | None = None) -> set[str]:
    return {k.keyword for k in keys if type_ is None or k.type is type_}


def test_levels_and_unique_keys() -> None:
    """C.2.2.1.1: one Unique Key per level."""
    assert [(lv.level, lv.unique) for lv in PATIENT_ROOT.levels] == [
        (Level.PATIENT, "PatientID"),
        (Level.STUDY, "StudyInstanceUID"),
        (Level.SERIES, "SeriesInstanceUID"),
        (Level.IMAGE, "SOPInstanceUID"),
    ]
    assert [lv.level for lv in STUDY_ROOT.levels] == [Level.STUDY, Level.SERIES, Level.IMAGE]
    assert [lv.level for lv in PATIENT_STUDY_ONLY.levels] == [Level.PATIENT, Level.STUDY]
    for model in MODELS:
        for entry in model.levels:
            assert _keywords(entry.keys, KeyType.UNIQUE) == {entry.unique}, entry.table


@pytest.mark.parametrize(
    ("model", "level", "required"),
    [
        (PATIENT_ROOT, Level.PATIENT, {"PatientName"}),  # Table C.6-1
        (PATIENT_ROOT, Level.STUDY, {"StudyDate", "StudyTime", "AccessionNumber", "StudyID"}),
        (PATIENT_ROOT, Level.SERIES, {"Modality", "SeriesNumber"}),  # Table C.6-3
        (PATIENT_ROOT, Level.IMAGE, {"InstanceNumber"}),  # Table C.6-4
        (
            STUDY_ROOT,
            Level.STUDY,
            {"StudyDate", "StudyTime", "AccessionNumber", "PatientName", "PatientID", "StudyID"},
        ),  # Table C.6-5
    ],
)
def test_required_keys(model: InformationModel, level: Level, required: set[str]) -> None:
    entry = model.level_keys(level)
    assert _keywords(entry.keys, KeyType.REQUIRED) == required


def test_optional_keys_named_in_the_brief() -> None:
    patient = _keywords(PATIENT_ROOT.level_keys(Level.PATIENT).keys)
    assert {
        "IssuerOfPatientID",
        "PatientBirthDate",
        "PatientSex",
        "NumberOfPatientRelatedStudies",
        "NumberOfPatientRelatedSeries",
        "NumberOfPatientRelatedInstances",
    } <= patient
    study = _keywords(PATIENT_ROOT.level_keys(Level.STUDY).keys)
    assert {
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "StudyDescription",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    } <= study
    assert "NumberOfSeriesRelatedInstances" in _keywords(PATIENT_ROOT.level_keys(Level.SERIES).keys)
    assert "SOPClassUID" in _keywords(PATIENT_ROOT.level_keys(Level.IMAGE).keys)


def test_study_root_moves_patient_keys_to_the_study() -> None:
    """C.3.2: Study Root's patients' attributes are attributes of studies."""
    assert STUDY_ROOT.level_of("PatientName") is Level.STUDY
    assert STUDY_ROOT.key_type("PatientID", Level.STUDY) is KeyType.REQUIRED
    assert PATIENT_ROOT.key_type("PatientID", Level.PATIENT) is KeyType.UNIQUE
    assert STUDY_ROOT.level_keys(Level.SERIES) == PATIENT_ROOT.level_keys(Level.SERIES)


def test_unlisted_attributes_are_optional_keys_of_any_level() -> None:
    """'All other Attributes at <level>' rows."""
    assert PATIENT_ROOT.level_of("BodyPartExamined") is None
    assert PATIENT_ROOT.key_type("BodyPartExamined", Level.SERIES) is KeyType.OPTIONAL


def test_every_keyword_is_in_the_data_dictionary() -> None:
    def walk(keys: tuple[Key, ...]) -> None:
        for key in keys:
            assert tag_for_keyword(key.keyword) is not None, key.keyword
            walk(key.items)

    for model in MODELS:
        for entry in model.levels:
            walk(entry.keys)
    for computed in ComputedKey:
        assert tag_for_keyword(computed.value) is not None


def test_sop_classes_name_their_models() -> None:
    for model in MODELS:
        for uid in model.sop_classes:
            assert model_for(uid) is model
    assert model_for(sc.StudyRootQueryRetrieveInformationModelMove + "\x00") is STUDY_ROOT
    with pytest.raises(KeyError):
        model_for(sc.CTImageStorage)


def test_protocol_approval_model() -> None:
    """Annex II (Table II.6-1): one level, SOP Instance UID unique, approvals matched
    on the subject they approve."""
    assert not PROTOCOL_APPROVAL.hierarchical
    assert PROTOCOL_APPROVAL.instance_sop_classes == (sc.ProtocolApprovalStorage,)
    (entry,) = PROTOCOL_APPROVAL.levels
    assert entry.unique == "SOPInstanceUID"
    keys = {k.keyword: k for k in entry.keys}
    assert keys["SOPClassUID"].type is KeyType.REQUIRED
    assert keys["InstanceCreationDate"].type is KeyType.REQUIRED
    subject = {k.keyword: k.type for k in keys["ApprovalSubjectSequence"].items}
    assert subject == {
        "ReferencedSOPClassUID": KeyType.REQUIRED,
        "ReferencedSOPInstanceUID": KeyType.REQUIRED,
    }
    approval = {k.keyword: k for k in keys["ApprovalSequence"].items}
    assert approval["AssertionUID"].type is KeyType.RETURN
    assert approval["AssertionDateTime"].type is KeyType.REQUIRED
    assert "CodeValue" in _keywords(approval["AssertionCodeSequence"].items)
    asserter = _keywords(approval["AsserterIdentificationSequence"].items)
    assert {"PersonName", "InstitutionName", "ObserverType"} <= asserter
    assert keys["Manufacturer"].type is KeyType.RETURN
    assert PROTOCOL_APPROVAL.combined_datetime == (
        ("InstanceCreationDate", "InstanceCreationTime"),
    )
