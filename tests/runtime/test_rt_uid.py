"""dimse.uid: UID constants that know their names without importing pydicom."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, cast

import pydicom.uid
import pytest
from pydicom.dataset import Dataset

from dimse import service_classes, sop_classes
from dimse.errors import UsageError
from dimse.storage_scu import prepare_store
from dimse.uid import UID, UNCOMPRESSED_TRANSFER_SYNTAXES

APP_MODULES = ["echoscu", "echoscp", "storescu", "storescp"]


def test_the_app_modules_and_registries_import_no_pydicom() -> None:
    # pydicom's import is ~70 ms of a CLI's start: only code that decodes datasets needs it.
    imports = "; ".join(f"import dimse.apps.{app}" for app in APP_MODULES)
    code = (
        f"import sys; {imports}; import dimse.ae, dimse.sop_classes, dimse.service_classes; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydicom'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("info", list(sop_classes.REGISTRY.values()), ids=lambda i: i.keyword)
def test_each_registry_constant_is_a_named_dimse_uid(info: sop_classes.SOPClassInfo) -> None:
    uid = getattr(sop_classes, info.keyword)
    assert isinstance(uid, UID) and isinstance(uid, str)
    assert uid.name == info.name and uid.keyword == info.keyword
    assert uid.as_pydicom() == pydicom.uid.UID(str(uid))


def test_pydicom_properties_are_pydicoms() -> None:
    for syntax in [*UNCOMPRESSED_TRANSFER_SYNTAXES, UID("1.2.840.10008.1.2.4.50")]:
        theirs = pydicom.uid.UID(str(syntax))
        assert syntax.name == theirs.name
        assert syntax.is_transfer_syntax is True
        assert syntax.is_little_endian == theirs.is_little_endian
        assert syntax.is_implicit_VR == theirs.is_implicit_VR
        assert syntax.is_deflated == theirs.is_deflated
        assert syntax.is_compressed == theirs.is_compressed
        assert syntax.is_encapsulated == theirs.is_encapsulated
        assert syntax.type == "Transfer Syntax"
    assert UID("1.2.840.10008.1.2.4.50").is_compressed
    assert not sop_classes.CTImageStorage.is_transfer_syntax
    assert UID("1.2.3.4").name == "1.2.3.4" and UID("1.2.3.4").keyword == ""
    assert UID("1.2.3.4").is_valid and not UID("1..2").is_valid


def test_pydicom_takes_the_constants_as_uids() -> None:
    ds = Dataset()
    ds.SOPClassUID = sop_classes.CTImageStorage
    assert isinstance(ds.SOPClassUID, pydicom.uid.UID)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    assert ds.SOPClassUID.name == "CT Image Storage"
    assert {sop_classes.CTImageStorage: 1}["1.2.840.10008.5.1.4.1.1.2"] == 1


def test_service_class_uids_are_dimse_uids() -> None:
    assert isinstance(service_classes.StorageServiceClass.uid, UID)
    assert all(isinstance(u, UID) for u in service_classes.StorageServiceClass.sop_classes)


def test_a_store_source_that_is_neither_dataset_nor_path_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not int"):
        prepare_store(cast(Any, None), cast(Any, 42))
