"""The Query/Retrieve information models of PS3.4 as data: levels, unique keys, key types.

The tables are transcribed from PS3.4 (2024 editions): Patient Root (C.6.1, Tables
C.6-1 to C.6-4), Study Root (C.6.2, Table C.6-5; its SERIES and IMAGE levels are those of
Patient Root, C.6.2.1.3/4), the retired Patient/Study Only model (C.6.3, retired after
PS3.4-2004: its PATIENT and STUDY levels carry the keys of Patient Root's) and the
single-level Protocol Approval Information Model (Annex II, Table II.6-1).

Matching and the index read these tables instead of hard-coding keywords, so a key that
PS3.4 moves between levels or adds is a one-line change here. Every attribute not listed
at any level is an Optional Key of the level it is queried at ("All other Attributes at
<level>" rows); the index returns and matches it from the stored instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

import attrs

from dimse import sop_classes as sc

__all__ = [
    "MODELS",
    "PATIENT_ROOT",
    "PATIENT_STUDY_ONLY",
    "PROTOCOL_APPROVAL",
    "STUDY_ROOT",
    "ComputedKey",
    "InformationModel",
    "Key",
    "KeyType",
    "Level",
    "LevelKeys",
    "model_for",
]


class Level(StrEnum):
    """Values of Query/Retrieve Level (0008,0052), top to bottom (PS3.4 Table C.6.1-1)."""

    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"

    @property
    def depth(self) -> int:
        return _DEPTH[self]


_DEPTH = {Level.PATIENT: 0, Level.STUDY: 1, Level.SERIES: 2, Level.IMAGE: 3}


class KeyType(StrEnum):
    """PS3.4 Table C.1-1 key types; RETURN is Annex II's "-" (a return key only)."""

    UNIQUE = "U"
    REQUIRED = "R"
    OPTIONAL = "O"
    RETURN = "-"


@attrs.frozen
class Key:
    """One key of a level; ``items`` are the keys inside a sequence key's item."""

    keyword: str
    type: KeyType
    items: tuple[Key, ...] = ()


class ComputedKey(StrEnum):
    """PS3.4 Table C.3-1: attributes no instance carries; the SCP derives them."""

    NumberOfPatientRelatedStudies = "NumberOfPatientRelatedStudies"
    NumberOfPatientRelatedSeries = "NumberOfPatientRelatedSeries"
    NumberOfPatientRelatedInstances = "NumberOfPatientRelatedInstances"
    NumberOfStudyRelatedSeries = "NumberOfStudyRelatedSeries"
    NumberOfStudyRelatedInstances = "NumberOfStudyRelatedInstances"
    NumberOfSeriesRelatedInstances = "NumberOfSeriesRelatedInstances"
    ModalitiesInStudy = "ModalitiesInStudy"
    SOPClassesInStudy = "SOPClassesInStudy"
    AnatomicRegionsInStudyCodeSequence = "AnatomicRegionsInStudyCodeSequence"
    AlternateRepresentationSequence = "AlternateRepresentationSequence"
    AvailableTransferSyntaxUID = "AvailableTransferSyntaxUID"


@attrs.frozen
class LevelKeys:
    """The keys of one level: exactly one unique key (PS3.4 C.2.2.1.1), then the rest."""

    level: Level
    unique: str
    keys: tuple[Key, ...]
    table: str  # the PS3.4 table the keys come from, for error messages and docs

    def key(self, keyword: str) -> Key | None:
        for key in self.keys:
            if key.keyword == keyword:
                return key
        return None


@attrs.frozen
class InformationModel:
    """A Query/Retrieve information model and the SOP classes that name it.

    ``hierarchical`` models carry Query/Retrieve Level in the Identifier and have one
    entity per level; a flat model (Annex II) has one entity, no level attribute, and
    covers only instances of ``instance_sop_classes``.
    """

    name: str
    levels: tuple[LevelKeys, ...]
    find: str
    move: str
    get: str
    hierarchical: bool = True
    instance_sop_classes: tuple[str, ...] = ()
    combined_datetime: tuple[tuple[str, str], ...] = ()  # DA/TM pairs always combined
    _level_index: Mapping[str, Level] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        index: dict[str, Level] = {}
        for entry in self.levels:
            for key in entry.keys:
                index.setdefault(key.keyword, entry.level)
        object.__setattr__(self, "_level_index", index)

    @property
    def sop_classes(self) -> tuple[str, str, str]:
        return (self.find, self.move, self.get)

    @property
    def top(self) -> Level:
        return self.levels[0].level

    @property
    def bottom(self) -> Level:
        return self.levels[-1].level

    def level_keys(self, level: Level) -> LevelKeys:
        for entry in self.levels:
            if entry.level is level:
                return entry
        raise KeyError(level)

    def has_level(self, level: Level) -> bool:
        return any(entry.level is level for entry in self.levels)

    def levels_down_to(self, level: Level) -> tuple[LevelKeys, ...]:
        """The levels from the top of the model to ``level``, inclusive."""
        return tuple(entry for entry in self.levels if entry.level.depth <= level.depth)

    def level_of(self, keyword: str) -> Level | None:
        """The level at which ``keyword`` is a listed key (None: "all other attributes")."""
        return self._level_index.get(keyword)

    def key_type(self, keyword: str, level: Level) -> KeyType:
        """How ``keyword`` counts at ``level``: listed type, else an Optional Key."""
        entry = self.level_keys(level)
        if keyword == entry.unique:
            return KeyType.UNIQUE
        key = entry.key(keyword)
        return key.type if key is not None else KeyType.OPTIONAL


def _keys(spec: Iterable[tuple[str, str] | tuple[str, str, tuple[Key, ...]]]) -> tuple[Key, ...]:
    out = []
    for row in spec:
        items: tuple[Key, ...] = row[2] if len(row) == 3 else ()
        out.append(Key(row[0], KeyType(row[1]), items))
    return tuple(out)


def _same(keys: tuple[Key, ...], type_: KeyType) -> tuple[Key, ...]:
    return tuple(Key(k.keyword, type_, _same(k.items, type_)) for k in keys)


_REFERENCED_SOP = _keys([("ReferencedSOPClassUID", "O"), ("ReferencedSOPInstanceUID", "O")])

# Table C.6-2b: Basic Code Value Keys Macro with Optional Keys.
_BASIC_CODE = _keys(
    [
        ("CodeValue", "O"),
        ("CodingSchemeDesignator", "O"),
        ("CodingSchemeVersion", "O"),
        ("CodeMeaning", "O"),
        ("LongCodeValue", "O"),
        ("URNCodeValue", "O"),
        ("ContextIdentifier", "O"),
        ("ContextUID", "O"),
        ("MappingResource", "O"),
        ("MappingResourceUID", "O"),
        ("ContextGroupVersion", "O"),
        ("ContextGroupExtensionFlag", "O"),
        ("ContextGroupLocalVersion", "O"),
        ("ContextGroupExtensionCreatorUID", "O"),
    ]
)
# Table C.6-2a: Enhanced Code Value Keys Macro with Optional Keys.
_ENHANCED_CODE = (*_BASIC_CODE, Key("EquivalentCodeSequence", KeyType.OPTIONAL, _BASIC_CODE))

# Table C.6-1: Patient Level Attributes for the Patient Root Q/R Information Model.
_PATIENT_KEYS = _keys(
    [
        ("PatientName", "R"),
        ("PatientID", "U"),
        ("IssuerOfPatientID", "O"),
        ("ReferencedPatientSequence", "O", _REFERENCED_SOP),
        ("PatientBirthDate", "O"),
        ("PatientBirthTime", "O"),
        ("PatientSex", "O"),
        ("OtherPatientIDsSequence", "O"),
        ("OtherPatientNames", "O"),
        ("EthnicGroup", "O"),
        ("PatientComments", "O"),
        ("NumberOfPatientRelatedStudies", "O"),
        ("NumberOfPatientRelatedSeries", "O"),
        ("NumberOfPatientRelatedInstances", "O"),
    ]
)

# Table C.6-2: Study Level Keys for the Patient Root Q/R Information Model.
_STUDY_HEAD = _keys(
    [
        ("StudyDate", "R"),
        ("StudyTime", "R"),
        ("AccessionNumber", "R"),
    ]
)
_STUDY_ID = _keys([("StudyID", "R"), ("StudyInstanceUID", "U")])
_STUDY_COMMON = _keys(
    [
        ("ModalitiesInStudy", "O"),
        ("SOPClassesInStudy", "O"),
        ("AnatomicRegionsInStudyCodeSequence", "O", _ENHANCED_CODE),
        ("ReferringPhysicianName", "O"),
        ("StudyDescription", "O"),
        ("ProcedureCodeSequence", "O", _ENHANCED_CODE),
        ("NameOfPhysiciansReadingStudy", "O"),
        ("AdmittingDiagnosesDescription", "O"),
        ("ReferencedStudySequence", "O", _REFERENCED_SOP),
    ]
)
_STUDY_PATIENT_DETAIL = _keys(
    [
        ("PatientAge", "O"),
        ("PatientSize", "O"),
        ("PatientWeight", "O"),
        ("Occupation", "O"),
        ("AdditionalPatientHistory", "O"),
    ]
)
_STUDY_TAIL = _keys(
    [
        ("OtherStudyNumbers", "O"),
        ("NumberOfStudyRelatedSeries", "O"),
        ("NumberOfStudyRelatedInstances", "O"),
    ]
)
_PATIENT_ROOT_STUDY = (
    *_STUDY_HEAD,
    *_STUDY_ID,
    *_STUDY_COMMON,
    *_STUDY_PATIENT_DETAIL,
    *_STUDY_TAIL,
)

# Table C.6-5: Study Level Keys for the Study Root Q/R Information Model: patients'
# attributes are attributes of studies (C.3.2), Patient's Name and ID become Required.
_STUDY_ROOT_STUDY = (
    *_STUDY_HEAD,
    *_keys([("PatientName", "R"), ("PatientID", "R")]),
    *_STUDY_ID,
    *_STUDY_COMMON,
    *_keys(
        [
            ("ReferencedPatientSequence", "O", _REFERENCED_SOP),
            ("IssuerOfPatientID", "O"),
            ("PatientBirthDate", "O"),
            ("PatientBirthTime", "O"),
            ("PatientSex", "O"),
            ("OtherPatientIDsSequence", "O"),
            ("OtherPatientNames", "O"),
        ]
    ),
    *_STUDY_PATIENT_DETAIL[:3],
    *_keys([("EthnicGroup", "O")]),
    *_STUDY_PATIENT_DETAIL[3:],
    *_keys([("PatientComments", "O")]),
    *_STUDY_TAIL,
)

# Table C.6-3: Series Level Attributes (also Study Root's, C.6.2.1.3).
_SERIES_KEYS = _keys(
    [
        ("Modality", "R"),
        ("SeriesNumber", "R"),
        ("SeriesInstanceUID", "U"),
        ("NumberOfSeriesRelatedInstances", "O"),
    ]
)

# Table C.6-4: Composite Object Instance Level Keys (also Study Root's, C.6.2.1.4).
_IMAGE_KEYS = _keys(
    [
        ("InstanceNumber", "R"),
        ("SOPInstanceUID", "U"),
        ("SOPClassUID", "O"),
        ("AvailableTransferSyntaxUID", "O"),
        (
            "AlternateRepresentationSequence",
            "O",
            _keys(
                [
                    ("SeriesInstanceUID", "O"),
                    ("ReferencedSOPClassUID", "O"),
                    ("ReferencedSOPInstanceUID", "O"),
                    ("PurposeOfReferenceCodeSequence", "O", _ENHANCED_CODE),
                ]
            ),
        ),
        ("RelatedGeneralSOPClassUID", "O"),
        ("ConceptNameCodeSequence", "O", _ENHANCED_CODE),
        (
            "ContentTemplateSequence",
            "O",
            _keys([("TemplateIdentifier", "O"), ("MappingResource", "O")]),
        ),
        ("ContainerIdentifier", "O"),
        (
            "SpecimenDescriptionSequence",
            "O",
            _keys([("SpecimenIdentifier", "O"), ("SpecimenUID", "O")]),
        ),
    ]
)

_PATIENT_LEVEL = LevelKeys(Level.PATIENT, "PatientID", _PATIENT_KEYS, "PS3.4 Table C.6-1")
_SERIES_LEVEL = LevelKeys(Level.SERIES, "SeriesInstanceUID", _SERIES_KEYS, "PS3.4 Table C.6-3")
_IMAGE_LEVEL = LevelKeys(Level.IMAGE, "SOPInstanceUID", _IMAGE_KEYS, "PS3.4 Table C.6-4")

PATIENT_ROOT = InformationModel(
    name="Patient Root",
    levels=(
        _PATIENT_LEVEL,
        LevelKeys(Level.STUDY, "StudyInstanceUID", _PATIENT_ROOT_STUDY, "PS3.4 Table C.6-2"),
        _SERIES_LEVEL,
        _IMAGE_LEVEL,
    ),
    find=sc.PatientRootQueryRetrieveInformationModelFind,
    move=sc.PatientRootQueryRetrieveInformationModelMove,
    get=sc.PatientRootQueryRetrieveInformationModelGet,
)

STUDY_ROOT = InformationModel(
    name="Study Root",
    levels=(
        LevelKeys(Level.STUDY, "StudyInstanceUID", _STUDY_ROOT_STUDY, "PS3.4 Table C.6-5"),
        _SERIES_LEVEL,
        _IMAGE_LEVEL,
    ),
    find=sc.StudyRootQueryRetrieveInformationModelFind,
    move=sc.StudyRootQueryRetrieveInformationModelMove,
    get=sc.StudyRootQueryRetrieveInformationModelGet,
)

# Retired (PS3.4 C.6.3, see PS3.4-2004 Tables C.6-8/C.6-9): the Patient Root model cut
# at the STUDY level; pynetdicom and dcmtk still negotiate it.
PATIENT_STUDY_ONLY = InformationModel(
    name="Patient/Study Only",
    levels=PATIENT_ROOT.levels[:2],
    find=sc.PatientStudyOnlyQueryRetrieveInformationModelFind,
    move=sc.PatientStudyOnlyQueryRetrieveInformationModelMove,
    get=sc.PatientStudyOnlyQueryRetrieveInformationModelGet,
)

# PS3.4 Table II.6-1: Attributes for the Protocol Approval Information Model. Matching
# key types are R/U/"-"; Table 8-1a code keys inside code sequences take their
# sequence's type. The brief's "Annex HH" is Defined Procedure Protocol; Protocol
# Approval is Annex II.
_PA_CODE = _same(_BASIC_CODE[:6], KeyType.REQUIRED)
_PA_KEYS = _keys(
    [
        ("SpecificCharacterSet", "-"),
        ("SOPClassUID", "R"),
        ("SOPInstanceUID", "U"),
        ("InstanceCreationDate", "R"),
        ("InstanceCreationTime", "R"),
        (
            "ApprovalSubjectSequence",
            "R",
            _keys([("ReferencedSOPClassUID", "R"), ("ReferencedSOPInstanceUID", "R")]),
        ),
        (
            "ApprovalSequence",
            "R",
            (
                Key("AssertionCodeSequence", KeyType.REQUIRED, _PA_CODE),
                Key("AssertionUID", KeyType.RETURN),
                Key(
                    "AsserterIdentificationSequence",
                    KeyType.REQUIRED,
                    (
                        Key("ObserverType", KeyType.RETURN),
                        Key("PersonName", KeyType.REQUIRED),
                        Key("PersonIdentificationCodeSequence", KeyType.REQUIRED, _PA_CODE),
                        Key("OrganizationalRoleCodeSequence", KeyType.REQUIRED, _PA_CODE),
                        Key("StationName", KeyType.RETURN),
                        Key("DeviceUID", KeyType.RETURN),
                        Key("Manufacturer", KeyType.RETURN),
                        Key("ManufacturerModelName", KeyType.RETURN),
                        Key("StationAETitle", KeyType.RETURN),
                        Key("InstitutionName", KeyType.REQUIRED),
                        Key("InstitutionCodeSequence", KeyType.REQUIRED, _PA_CODE),
                        Key("InstitutionalDepartmentName", KeyType.UNIQUE),
                        Key("InstitutionalDepartmentTypeCodeSequence", KeyType.UNIQUE, _PA_CODE),
                    ),
                ),
                Key("AssertionDateTime", KeyType.REQUIRED),
                Key("AssertionExpirationDateTime", KeyType.REQUIRED),
                Key("AssertionComments", KeyType.RETURN),
                Key(
                    "RelatedAssertionSequence",
                    KeyType.UNIQUE,
                    (Key("ReferencedAssertionUID", KeyType.UNIQUE),),
                ),
            ),
        ),
        ("Manufacturer", "-"),
        ("ManufacturerModelName", "-"),
        ("SoftwareVersions", "-"),
    ]
)

PROTOCOL_APPROVAL = InformationModel(
    name="Protocol Approval",
    levels=(LevelKeys(Level.IMAGE, "SOPInstanceUID", _PA_KEYS, "PS3.4 Table II.6-1"),),
    find=sc.ProtocolApprovalInformationModelFind,
    move=sc.ProtocolApprovalInformationModelMove,
    get=sc.ProtocolApprovalInformationModelGet,
    hierarchical=False,
    instance_sop_classes=(sc.ProtocolApprovalStorage,),
    # Table II.6-1, Instance Creation Time: both given for Range Matching, they are
    # matched as one DateTime whatever was negotiated.
    combined_datetime=(("InstanceCreationDate", "InstanceCreationTime"),),
)

MODELS: tuple[InformationModel, ...] = (
    PATIENT_ROOT,
    STUDY_ROOT,
    PATIENT_STUDY_ONLY,
    PROTOCOL_APPROVAL,
)

_BY_SOP_CLASS = {str(uid): model for model in MODELS for uid in model.sop_classes}


def model_for(sop_class_uid: str) -> InformationModel:
    """The information model of a FIND, MOVE or GET SOP class; KeyError if none."""
    return _BY_SOP_CLASS[str(sop_class_uid).rstrip("\x00")]
