"""Converting a data set between little and big endian keeps every value.

pydicom re-encodes numbers in the order it writes but keeps OW/OL/OF/OD/OV values as
the bytes they are; dimse swaps those, so 16-bit pixels (and LUTs, float pixels, ...)
keep their values when storescu converts a file for a peer that accepts the other order.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pydicom
import pytest
from _rt_net import make_dataset, run, scp_ae, scu_ae, serving
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dimse.ae import StoreToDirectory
from dimse.datasets import decode_dataset, encode_dataset
from dimse.statuses import StorageStatus

PIXELS = [0, 1, 2, 0x1234, 0xFFFE, 0x8001]
FLOATS = [1.5, -2.25, 1024.0]  # exact in float32
DOUBLES = [1.0e-300, -7.5]
LONGS = [1, 0x01020304]
LUT = [10, 0x0A0B, 0xFFF0]
EXTENDED = [0, 0x0102030405060708]

# (keyword, struct code, values): every word-sized "bytes" VR, one inside a sequence
WORDS = [
    ("PixelData", "H", PIXELS),
    ("FloatPixelData", "f", FLOATS),
    ("DoubleFloatPixelData", "d", DOUBLES),
    ("LongPrimitivePointIndexList", "L", LONGS),
    ("ExtendedOffsetTable", "Q", EXTENDED),
]


def _pack(code: str, values: list[int] | list[float], little: bool) -> bytes:
    return struct.pack(("<" if little else ">") + code * len(values), *values)


def _unpack(code: str, data: bytes, little: bool) -> tuple[int | float, ...]:
    count = len(data) // struct.calcsize("<" + code)
    return struct.unpack(("<" if little else ">") + code * count, data)


def _instance(little: bool) -> Dataset:
    """A CT instance whose word-sized values are encoded in the given byte order."""
    ds = make_dataset(CTImageStorage)
    ds.Rows, ds.Columns = 2, 3
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.SmallestImagePixelValue = 7  # "US or SS"
    for keyword, code, values in WORDS:
        setattr(ds, keyword, _pack(code, values, little))
    lut = Dataset()
    lut.LUTDescriptor = [len(LUT), 0, 16]
    lut.add_new(0x00283006, "OW", _pack("H", LUT, little))  # LUTData, "US or OW"
    lut.ModalityLUTType = "HU"
    ds.ModalityLUTSequence = Sequence([lut])
    return ds


def _written(tmp_path: Path, syntax: str) -> Dataset:
    """The instance as a file in ``syntax``, read back as storescu would read it."""
    little = syntax != ExplicitVRBigEndian
    ds = _instance(little)
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / "source.dcm"
    ds.save_as(path, enforce_file_format=True)
    return pydicom.dcmread(path)


def _assert_values(ds: Dataset, little: bool) -> None:
    for keyword, code, values in WORDS:
        assert list(_unpack(code, getattr(ds, keyword), little)) == values, keyword
    assert list(_unpack("H", ds.ModalityLUTSequence[0].LUTData, little)) == LUT
    assert ds.ModalityLUTSequence[0].LUTDescriptor == [len(LUT), 0, 16]
    assert ds.SmallestImagePixelValue == 7 and ds.Rows == 2


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (ExplicitVRLittleEndian, ExplicitVRBigEndian),
        (ImplicitVRLittleEndian, ExplicitVRBigEndian),
        (ExplicitVRBigEndian, ExplicitVRLittleEndian),
        (ExplicitVRBigEndian, ImplicitVRLittleEndian),
        (ExplicitVRLittleEndian, ImplicitVRLittleEndian),  # same order: nothing swapped
    ],
)
def test_every_value_survives_a_change_of_byte_order(
    tmp_path: Path, source: str, target: str
) -> None:
    original = _written(tmp_path, source)
    _assert_values(original, little=source != ExplicitVRBigEndian)
    decoded = decode_dataset(encode_dataset(original, target), target)
    _assert_values(decoded, little=target != ExplicitVRBigEndian)
    _assert_values(original, little=source != ExplicitVRBigEndian)  # the caller's is intact


def test_storescu_path_converts_a_big_endian_file_for_a_little_endian_peer(
    tmp_path: Path,
) -> None:
    source = tmp_path / "big.dcm"
    ds = _written(tmp_path, ExplicitVRBigEndian)
    ds.save_as(source)
    out = tmp_path / "received"
    scp = scp_ae(storage=False)
    scp.add_supported_storage(ImplicitVRLittleEndian)
    scp.store_sink = StoreToDirectory(out, fsync=False)

    async def main() -> None:
        async with serving(scp) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            assert (await assoc.send_c_store(source)).status == StorageStatus.SUCCESS
            await assoc.release()

    run(main())
    stored = pydicom.dcmread(out / str(ds.SOPInstanceUID))
    assert stored.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    _assert_values(stored, little=True)
