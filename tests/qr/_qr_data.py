"""Test data for the Q/R tests: instances in a consistent patient/study/series tree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dimse.qr.index import InstanceRecord

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
PROTOCOL_APPROVAL_STORAGE = "1.2.840.10008.5.1.4.1.1.200.3"
EXPLICIT = "1.2.840.10008.1.2.1"
ROOT = "1.2.826.0.1.3680043.10.1066"  # a test root; UIDs below are deterministic


def uid(*parts: int) -> str:
    return ".".join([ROOT, *(str(p) for p in parts)])


def instance(**attrs: Any) -> Dataset:
    """A minimal CT instance; keyword arguments set or override attributes."""
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = uid(9, 9, 9)
    ds.PatientID = "P0"
    ds.PatientName = "DOE^JOHN"
    ds.StudyInstanceUID = uid(1)
    ds.SeriesInstanceUID = uid(1, 1)
    ds.Modality = "CT"
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def record(ds: Dataset, path: str | None = None) -> InstanceRecord:
    return InstanceRecord.from_dataset(
        ds, transfer_syntax_uid=EXPLICIT, path=path or f"x/{ds.SOPInstanceUID}"
    )


NAMES = ["DOE^JOHN", "Doe^Jane", "SMITH^ANNA", "Müller^Jürgen", "O'NEIL^PAT", "doe^jim"]
MODALITIES = ["CT", "MR", "PT", "US"]


def corpus(
    patients: int = 5, studies: int = 4, series: int = 2, images: int = 5
) -> Iterator[Dataset]:
    """patients x studies x series x images instances (200 with the defaults)."""
    for p in range(patients):
        for s in range(studies):
            for r in range(series):
                for i in range(images):
                    yield instance(
                        PatientID=f"PID{p:03d}",
                        PatientName=NAMES[p % len(NAMES)],
                        PatientBirthDate=f"19{50 + p:02d}0{1 + p % 9}15",
                        PatientSex="MF"[p % 2],
                        StudyInstanceUID=uid(p, s),
                        StudyDate=f"2020{1 + s * 3:02d}{10 + p:02d}",
                        StudyTime=f"{8 + s:02d}3000",
                        AccessionNumber=f"ACC{p}{s}",
                        StudyID=f"S{s}",
                        StudyDescription=f"Study {s} of {p}",
                        SeriesInstanceUID=uid(p, s, r),
                        Modality=MODALITIES[(s + r) % len(MODALITIES)],
                        SeriesNumber=r + 1,
                        SOPInstanceUID=uid(p, s, r, i),
                        SOPClassUID=MR if (s + r) % len(MODALITIES) == 1 else CT,
                        InstanceNumber=i + 1,
                    )


def element(keyword: str, value: Any) -> DataElement:
    """A request element as a peer may send it: wild cards and ranges are not valid
    values of their VRs, so pydicom's write-time validation is skipped (reading a
    received identifier does not validate either)."""
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    return DataElement(tag, dictionary_VR(tag), value, validation_mode=config.IGNORE)


def identifier(level: str | None = None, **keys: Any) -> Dataset:
    ds = Dataset()
    if level is not None:
        ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        ds.add(element(keyword, value))
    return ds
