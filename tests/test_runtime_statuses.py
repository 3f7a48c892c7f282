"""The generated modules as a developer uses them."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID

import dimse.uid
from dimse import sop_classes, statuses
from dimse.service_classes import (
    NonPatientObjectStorageServiceClass,
    ProtocolApprovalQueryRetrieveServiceClass,
    StorageServiceClass,
)
from dimse.statuses import Category, StorageStatus


def test_sop_class_constants_are_uids() -> None:
    from dimse.sop_classes import CTImageStorage

    # dimse's own str UID (no pydicom import to define it); pydicom's on demand.
    assert isinstance(CTImageStorage, dimse.uid.UID) and isinstance(CTImageStorage, str)
    assert isinstance(CTImageStorage.as_pydicom(), UID)
    assert CTImageStorage == "1.2.840.10008.5.1.4.1.1.2"
    assert CTImageStorage.name == "CT Image Storage"


def test_every_registered_uid_is_ps36() -> None:
    for uid, info in sop_classes.REGISTRY.items():
        assert pydicom.uid.UID_dictionary[uid][4] == info.keyword  # type: ignore[attr-defined]


def test_aliases_point_at_keywords() -> None:
    assert sop_classes.DigitalXRayImagePresentationStorage == "1.2.840.10008.5.1.4.1.1.1.1"
    assert sop_classes.info("UltrasoundMultiframeImageStorage").keyword == (
        "UltrasoundMultiFrameImageStorage"
    )
    # Misspellings from the sources are never exported.
    typo = "OphthlamicOpticalCoherenceTomographyBScanVolumeAnalysisStorage"
    assert not hasattr(sop_classes, typo)


def test_lookup_range_from_issue() -> None:
    entry = statuses.lookup(0xA7F3, service_class="storage", dimse="C-STORE")
    assert entry is not None
    assert entry.category is Category.FAILURE
    assert entry.description == "Out of resources"
    assert (entry.first, entry.last) == (0xA700, 0xA7FF)


def test_lookup_prefers_exact_over_range() -> None:
    entry = statuses.lookup(0xC001, service_class="storage", dimse="C-STORE")
    assert entry is not None and (entry.first, entry.last) == (0xC001, 0xC001)
    wide = statuses.lookup(0xC0FF, service_class="storage", dimse="C-STORE")
    assert wide is not None and (wide.first, wide.last) == (0xC000, 0xCFFF)


def test_lookup_falls_back_to_ps37_rules() -> None:
    entry = statuses.lookup(0xB123, service_class="storage", dimse="C-STORE")
    assert entry is not None and entry.category is Category.WARNING
    assert statuses.lookup(0x1234) is None


def test_corrected_statuses() -> None:
    assert StorageStatus.ELEMENTS_DISCARDED == 0xB006
    assert StorageStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING == 0xB007
    assert StorageStatus.SOP_CLASS_NOT_SUPPORTED == 0x0122
    assert 0x0112 not in StorageServiceClass.statuses["C-STORE"]
    assert statuses.ProtocolApprovalMoveStatus.HANDLER_INVALID_DESTINATION == 0xC515


def test_member_range_and_category() -> None:
    assert StorageStatus.OUT_OF_RESOURCES.range == range(0xA700, 0xA800)
    assert StorageStatus.OUT_OF_RESOURCES.category is Category.FAILURE
    assert StorageStatus.SUCCESS.description == "Success"


def test_service_class_facts() -> None:
    assert StorageServiceClass.uid == "1.2.840.10008.4.2"
    assert len(StorageServiceClass.sop_classes) == 130
    assert StorageServiceClass.dimse_usage[0].service == "C-STORE"
    assert len(NonPatientObjectStorageServiceClass.sop_classes) == 8
    pa = ProtocolApprovalQueryRetrieveServiceClass
    assert set(pa.statuses) == {"C-FIND", "C-GET", "C-MOVE"}
    assert pa.is_valid_status(0xA801, "C-MOVE")
    assert not pa.is_valid_status(0xA801, "C-GET")


@pytest.mark.parametrize(
    ("status", "expected"), [(0x0000, True), (0xA7F3, True), (0xB007, True), (0x0112, False)]
)
def test_is_valid_status(status: int, expected: bool) -> None:
    assert StorageServiceClass.is_valid_status(status) is expected


def test_validate_status() -> None:
    rsp = Dataset()
    assert StorageServiceClass.validate_status(0xB000, rsp).Status == 0xB000
    status = Dataset()
    status.Status = 0xA700
    status.ErrorComment = "disk full"
    out = StorageServiceClass.validate_status(status, Dataset())
    assert out.Status == 0xA700 and out.ErrorComment == "disk full"
    assert StorageServiceClass.validate_status(Dataset(), Dataset()).Status == 0xC001
    assert StorageServiceClass.validate_status("nonsense", Dataset()).Status == 0xC002
    find = ProtocolApprovalQueryRetrieveServiceClass
    assert find.validate_status(None, Dataset(), "C-FIND").Status == 0xC002


def test_verification_service_class_from_our_page() -> None:
    from dimse.service_classes import VerificationServiceClass
    from dimse.statuses import VerificationStatus

    assert VerificationServiceClass.sop_classes == (sop_classes.Verification,)
    assert VerificationServiceClass.supports("1.2.840.10008.1.1")
    entry = statuses.lookup(0x0122, service_class="verification", dimse="C-ECHO")
    assert entry is not None
    assert entry.category == Category.FAILURE
    assert VerificationStatus.HANDLER_EXCEPTION == 0xC211
    rsp = Dataset()
    VerificationServiceClass.validate_status(Dataset(), rsp, "C-ECHO")
    assert rsp.Status == 0xC001
