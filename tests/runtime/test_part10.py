"""PS3.10 header writing/reading against pydicom as the oracle."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dimse.errors import UsageError
from dimse.part10 import InstanceFile, Part10Error, encode_file_meta, is_valid_uid, read_file_meta


def _dataset(uid: str = "1.2.3.4") -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid
    ds.PatientName = "DOE^JOHN"
    ds.Rows = 2
    return ds


def _encoded(ds: Dataset, implicit: bool = True) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, implicit_vr=implicit, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()


@pytest.mark.parametrize("uid", ["1.2.3.4", "1.2.840.10008.5"])
def test_written_meta_is_read_by_pydicom(tmp_path: Path, uid: str) -> None:
    body = _encoded(_dataset(uid))
    meta = encode_file_meta(CTImageStorage, uid, ImplicitVRLittleEndian, "1.2.3", "DIMSE_X", "ME")
    target = tmp_path / "x.dcm"
    target.write_bytes(meta + body)
    read = pydicom.dcmread(target)
    assert read.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert read.file_meta.MediaStorageSOPInstanceUID == uid
    assert read.file_meta.ImplementationVersionName == "DIMSE_X"
    assert read.file_meta.SourceApplicationEntityTitle == "ME"
    assert read.PatientName == "DOE^JOHN"
    parsed = read_file_meta(target)
    assert parsed.sop_instance_uid == uid
    assert target.read_bytes()[parsed.dataset_offset :] == body


def test_reads_meta_written_by_pydicom(tmp_path: Path) -> None:
    ds = _dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    target = tmp_path / "p.dcm"
    ds.save_as(target, enforce_file_format=True)
    meta = read_file_meta(target)
    assert meta.transfer_syntax_uid == ExplicitVRLittleEndian
    assert meta.sop_class_uid == CTImageStorage
    assert target.read_bytes()[meta.dataset_offset :] == _encoded(_dataset(), implicit=False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no DICOM preamble"),
        (b"\x00" * 128 + b"DICM" + b"\x02\x00", "truncated"),
        (b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\xff\xff\xff\x00", "implausible"),
        (b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\x10\x00\x00\x00", "truncated"),
    ],
)
def test_bad_headers_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    target = tmp_path / "bad.dcm"
    target.write_bytes(content)
    with pytest.raises(Part10Error, match=rf"bad\.dcm.*{message}"):
        read_file_meta(target)


@pytest.mark.parametrize("uid", ["../etc/passwd", "/abs", "1..2", "01.2", "", "1" * 65, "1.2.a"])
def test_hostile_uids_never_become_file_names(tmp_path: Path, uid: str) -> None:
    assert not is_valid_uid(uid)
    with pytest.raises(UsageError):
        InstanceFile.create(tmp_path, b"meta", uid)
    assert list(tmp_path.iterdir()) == []


def test_instance_file_is_atomic(tmp_path: Path) -> None:
    part = InstanceFile.create(tmp_path, b"HEAD", "1.2.3", fsync=True)
    part.write(b"abc")
    part.write(memoryview(b"def"))
    assert not (tmp_path / "1.2.3").exists()
    assert len(list(tmp_path.iterdir())) == 1  # only the hidden temporary file
    assert part.close() == tmp_path / "1.2.3"
    assert (tmp_path / "1.2.3").read_bytes() == b"HEADabcdef"
    assert [p.name for p in tmp_path.iterdir()] == ["1.2.3"]


def test_discard_leaves_nothing_and_duplicates_replace(tmp_path: Path) -> None:
    first = InstanceFile.create(tmp_path, b"one", "1.2.3", fsync=False)
    first.close()
    aborted = InstanceFile.create(tmp_path, b"partial", "1.2.3", fsync=False)
    aborted.discard()
    assert [p.name for p in tmp_path.iterdir()] == ["1.2.3"]
    assert (tmp_path / "1.2.3").read_bytes() == b"one"
    second = InstanceFile.create(tmp_path, b"two", "1.2.3", fsync=False)
    second.close()
    assert (tmp_path / "1.2.3").read_bytes() == b"two"
    with pytest.raises(UsageError):
        second.write(b"late")
