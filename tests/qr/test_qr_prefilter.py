"""The SQL prefilter never drops a true match (Hypothesis): the index answers the same
with and without it, and as a brute-force Python evaluation over every instance."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from _qr_data import element, identifier, record, uid
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dimse.qr import dicomjson
from dimse.qr.dicomjson import JsonElement
from dimse.qr.errors import QueryError
from dimse.qr.models import PATIENT_ROOT, STUDY_ROOT, Level
from dimse.qr.query import MatchOptions, QueryKey, compile_find
from dimse.qr.sqlite import SQLiteIndex

STUDIES = [uid(50, n) for n in range(3)]
SERIES = [uid(50, n, m) for n in range(3) for m in range(2)]

# Stored values: empty, case variants, Unicode folds, legacy and broken dates, several
# values where one is expected, GLOB's special characters.
STORED: dict[str, list[Any]] = {
    "PatientName": [
        "",
        "DOE^JOHN",
        "doe^john^^",
        "Doe^Jane",
        "Müller^X",
        "STRASSE^ß",
        "Wang^X=王^小東",
        "=王^小東",
        ["X", "Y"],
        "A[1]^B",
    ],
    "PatientBirthDate": ["", "19500101", "1950", "bad"],
    "StudyDate": ["", "20200101", "20201231", "2020.06.01", "garbage", ["20200101", "20210101"]],
    "StudyTime": ["", "1000", "235959.5", "12", "bad"],
    "AccessionNumber": ["", "A1", "a1", "A[1]", "A*1", ["X", "Y"]],
    "StudyDescription": ["", "Chest", "chest CT"],
    "Modality": ["CT", "MR", "ct", "", ["CT", "PT"]],
    "SeriesNumber": ["", "1", "01", ["2", "3"], "1.0"],
    "InstanceNumber": ["", "1", "7"],
    "InstitutionName": ["", "H1", "h1"],
}
# Request values: exact, wild cards (GLOB's [ included), ranges, lists.
ASKED: dict[str, list[Any]] = {
    "PatientID": ["", "A", "a", "A*", "?", "*"],
    "PatientName": [
        "",
        "DOE*",
        "doe^john",
        "*^J*",
        "müller*",
        "strasse*",
        "=王*",
        "Wang*",
        "?O?^*",
        "A[1]*",
        "X",
        "Y",
    ],
    "PatientBirthDate": ["", "19500101", "-1960"],
    "StudyDate": ["", "20200101", "2020-", "-20200601", "20200101-20201231", "2021"],
    "StudyTime": ["", "1000", "1000-", "-1200", "0900-1300"],
    "AccessionNumber": ["", "A1", "a*", "A[*", "A?1", ["A1", "X"]],
    "StudyDescription": ["", "*CT", "Chest"],
    "Modality": ["", "CT", "C?", "ct", ["CT", "MR"]],
    "SeriesNumber": ["", "1", "2"],
    "InstanceNumber": ["", "1", "7"],
    "InstitutionName": ["", "H1", "h*"],
    "ModalitiesInStudy": ["", "CT", ["MR", "PT"], "C*"],
    "NumberOfStudyRelatedInstances": ["", "2"],
    "StudyInstanceUID": ["", STUDIES[0], [STUDIES[1], STUDIES[2]]],
    "SeriesInstanceUID": ["", SERIES[0], [SERIES[1], SERIES[3]]],
}


def _stored_instance(
    n: int, study: int, series: int, patient: str, values: dict[str, Any]
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = uid(51, n)
    ds.PatientID = patient
    ds.StudyInstanceUID = STUDIES[study]
    ds.SeriesInstanceUID = SERIES[study * 2 + series]
    for keyword, value in values.items():
        ds.add(element(keyword, value))
    return ds


@st.composite
def corpora(draw: st.DrawFn, consistent: bool) -> list[Dataset]:
    """Up to 12 instances; ``consistent``: each study keeps one patient."""
    count = draw(st.integers(1, 12))
    datasets = []
    for n in range(count):
        study = draw(st.integers(0, 2))
        patient = f"P{study % 2}" if consistent else draw(st.sampled_from(["A", "B", "a", ""]))
        values = {k: draw(st.sampled_from(v)) for k, v in STORED.items() if draw(st.booleans())}
        sop = n if consistent else draw(st.integers(0, 8))  # duplicates re-send
        datasets.append(_stored_instance(sop, study, draw(st.integers(0, 1)), patient, values))
    return datasets


@st.composite
def queries(draw: st.DrawFn) -> tuple[Dataset, Any, MatchOptions]:
    model = draw(st.sampled_from([PATIENT_ROOT, STUDY_ROOT]))
    level = draw(st.sampled_from([lv.level for lv in model.levels]))
    chosen = draw(st.lists(st.sampled_from(sorted(ASKED)), max_size=5, unique=True))
    keys = {k: draw(st.sampled_from(ASKED[k])) for k in chosen}
    options = MatchOptions(
        relational=draw(st.booleans()),
        combined_datetime=draw(st.booleans()),
        case_insensitive_pn=draw(st.booleans()),
        strict=False,
    )
    return identifier(level.value, **keys), model, options


def _answer(index: SQLiteIndex, query: Dataset, model: Any, options: MatchOptions) -> Any:
    try:
        results = index.find(None, query, model, options)
    except QueryError as exc:
        return type(exc).__name__
    return [[(int(e.tag), e.VR, str(e.value)) for e in ds] for ds in results]


@settings(max_examples=300)
@given(corpora(consistent=False), st.lists(queries(), min_size=1, max_size=8))
def test_prefilter_never_drops_a_match(
    datasets: list[Dataset], asked: list[tuple[Dataset, Any, MatchOptions]]
) -> None:
    with SQLiteIndex(":memory:") as index:
        for ds in datasets:
            index.add(record(ds))
        for query, model, options in asked:
            index._prefilter = True
            filtered = _answer(index, query, model, options)
            index._prefilter = False
            assert filtered == _answer(index, query, model, options)


def _brute_force(datasets: list[Dataset], query: Dataset) -> list[str]:
    """Study Root STUDY level by hand: each study and each patient is represented by
    its newest instance, Modalities in Study by each series' newest instance."""
    compiled = compile_find(query, STUDY_ROOT, options=MatchOptions(strict=False))
    newest_of: dict[tuple[str, str], dict[str, JsonElement]] = {}
    counts: dict[str, int] = defaultdict(int)
    series_of: dict[str, set[str]] = defaultdict(set)
    for ds in datasets:  # added in this order: later is newer
        data = dicomjson.from_dataset(ds)
        newest_of["patient", ds.PatientID] = data
        newest_of["study", ds.StudyInstanceUID] = data
        newest_of["series", ds.SeriesInstanceUID] = data
        counts[ds.StudyInstanceUID] += 1
        series_of[ds.StudyInstanceUID].add(ds.SeriesInstanceUID)
    matches = []
    for study in STUDIES:
        if study not in counts:
            continue
        study_data = newest_of["study", study]
        patient_id = dicomjson.element_values(study_data.get("00100020"))[0]
        patient_data = newest_of["patient", patient_id]

        def view(key: QueryKey) -> JsonElement | None:
            keyword = key.keyword
            if keyword == "NumberOfStudyRelatedInstances":
                return {"vr": "IS", "Value": [counts[study]]}  # noqa: B023
            if keyword == "ModalitiesInStudy":
                found = set()
                for series in series_of[study]:  # noqa: B023
                    modality = newest_of["series", series].get("00080060")
                    found.update(str(v) for v in dicomjson.element_values(modality))
                return {"vr": "CS", "Value": sorted(found)} if found else None
            source = patient_data if keyword.startswith("Patient") else study_data  # noqa: B023
            return source.get(key.matcher.key)

        if compiled.matches(view):
            matches.append(study)
    return matches


STUDY_KEYS = [
    "PatientName",
    "PatientBirthDate",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedInstances",
    "StudyInstanceUID",
]


@settings(max_examples=150)
@given(
    corpora(consistent=True),
    st.lists(st.sampled_from(STUDY_KEYS), max_size=4, unique=True),
    st.data(),
)
def test_index_agrees_with_brute_force(
    datasets: list[Dataset], chosen: list[str], data: st.DataObject
) -> None:
    keys = {k: data.draw(st.sampled_from(ASKED[k])) for k in chosen}
    keys.setdefault("StudyInstanceUID", "")
    query = identifier("STUDY", **keys)
    with SQLiteIndex(":memory:") as index:
        for ds in datasets:
            index.add(record(ds))
        found = [
            ds.StudyInstanceUID
            for ds in index.find(Level.STUDY, query, STUDY_ROOT, MatchOptions(strict=False))
        ]
    assert sorted(found) == sorted(_brute_force(datasets, query))


def test_prefilter_edge_cases() -> None:
    """Fixed cases of what random search finds slowly: GLOB's '[' is literal, times
    compare by meaning, several stored values and unparsable ones reach Python."""
    stored = [
        {"AccessionNumber": "A[1]", "StudyTime": "1000"},
        {"AccessionNumber": ["Q", "A1"], "StudyTime": "bad", "StudyDate": ["19990101", "20200101"]},
        {"AccessionNumber": "", "StudyTime": "0959"},
    ]
    asked = [
        ({"AccessionNumber": "A[*"}, [0, 2]),
        ({"AccessionNumber": "A1"}, [1, 2]),
        ({"StudyTime": "1000-"}, [0]),
        ({"StudyDate": "2020"}, [0, 1, 2]),
    ]
    with SQLiteIndex(":memory:") as index:
        for n, values in enumerate(stored):
            index.add(record(_stored_instance(n, n, 0, "P", values)))
        for keys, expected in asked:
            query = identifier("STUDY", StudyInstanceUID="", **keys)
            for prefilter in (True, False):
                index._prefilter = prefilter
                found = [ds.StudyInstanceUID for ds in index.find(None, query, STUDY_ROOT)]
                assert found == [STUDIES[n] for n in expected], (keys, prefilter)
