"""pydicom at the edges: datasets are bytes on the wire and Datasets only when asked.

The runtime moves encoded datasets untouched; these helpers decode one for a handler
that wants a :class:`pydicom.dataset.Dataset`, encode one a user passes in, and build
File Meta Information. Deflated transfer syntaxes are handled here (PS3.5 A.5).
"""

from __future__ import annotations

import zlib
from io import BytesIO
from typing import TYPE_CHECKING

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import correct_ambiguous_vr, write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from dimse._implementation import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dimse.errors import UsageError
from dimse.part10 import encode_file_meta

if TYPE_CHECKING:
    from dimse.messages import Message

__all__ = [
    "decode_dataset",
    "encode_dataset",
    "encoded_file",
    "file_meta_for",
    "materialise",
]


def _syntax(transfer_syntax: str) -> UID:
    uid = UID(transfer_syntax.rstrip("\x00"))
    if not uid.is_transfer_syntax:
        raise UsageError(f"{uid} is not a known transfer syntax")
    return uid


def decode_dataset(data: bytes | bytearray | memoryview, transfer_syntax: str) -> Dataset:
    """Decode dataset bytes received in ``transfer_syntax``; ValueError if they are bad."""
    uid = _syntax(transfer_syntax)
    raw = bytes(data)
    if uid.is_deflated:
        try:
            raw = zlib.decompress(raw, -zlib.MAX_WBITS)
        except zlib.error as exc:
            raise ValueError(f"deflated dataset does not inflate: {exc}") from exc
    try:
        return materialise(read_dataset(BytesIO(raw), uid.is_implicit_VR, uid.is_little_endian))
    except Exception as exc:
        raise ValueError(f"dataset does not decode as {uid.name}: {exc}") from exc


def materialise(dataset: Dataset) -> Dataset:
    """Convert every raw element now (sequences included) and return ``dataset``.

    pydicom converts values lazily, on first access; a dataset that "decoded" could
    still fail inside a handler, which would then be reported as a handler fault
    instead of an undecodable dataset. Any conversion error is raised here.
    """
    for _ in dataset.iterall():
        pass
    return dataset


def encode_dataset(dataset: Dataset, transfer_syntax: str) -> bytes:
    """Encode ``dataset`` for sending in ``transfer_syntax`` (native pixel data only:
    compressing is not done here, so an already-encapsulated dataset keeps its syntax)."""
    uid = _syntax(transfer_syntax)
    buffer = DicomBytesIO()
    buffer.is_implicit_VR = uid.is_implicit_VR
    buffer.is_little_endian = uid.is_little_endian
    try:
        source_little = dataset.original_encoding[1]
        if source_little is not None and source_little != uid.is_little_endian:
            dataset = _in_other_byte_order(materialise(dataset), source_little)
        write_dataset(buffer, dataset)
    except Exception as exc:
        raise UsageError(f"cannot encode the dataset as {uid.name}: {exc}") from exc
    raw = buffer.getvalue()
    if uid.is_deflated:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        raw = compressor.compress(raw) + compressor.flush()
        if len(raw) % 2:
            # PS3.5 A.5: an odd-length deflated stream gets one trailing NUL byte (a
            # data set, hence every PDV fragment of it, has even length; dcmtk refuses
            # an odd one). Inflating stops at the end of the stream and ignores it.
            raw += b"\x00"
    return raw


# Values pydicom keeps as the bytes they are, and their word size: the byte order of a
# transfer syntax applies to them too (PS3.5 7.3), so they are swapped between orders.
_WORD_SIZE = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}


def _in_other_byte_order(dataset: Dataset, source_little: bool) -> Dataset:
    """A copy of ``dataset`` for the other byte order. pydicom re-encodes numbers (US,
    FL, ...) in the order it writes, but OW/OL/OF/OD/OV values (pixel data above all)
    are bytes to it and would go out unswapped: 16-bit pixels would change value.
    Ambiguous VRs ("OB or OW", "US or SS") are settled in the source order first."""
    correct_ambiguous_vr(dataset, source_little)
    out = Dataset()
    for elem in dataset:
        value = elem.value
        size = _WORD_SIZE.get(str(elem.VR), 0)
        if elem.VR == "SQ":
            items = [_in_other_byte_order(item, source_little) for item in value]
            out.add(DataElement(elem.tag, elem.VR, Sequence(items)))
        elif size and isinstance(value, (bytes, bytearray)) and len(value) % size == 0:
            out.add(DataElement(elem.tag, elem.VR, _swap_bytes(value, size)))
        else:
            out.add(elem)
    return out


def _swap_bytes(value: bytes | bytearray, size: int) -> bytes:
    view = memoryview(value)
    out = bytearray(len(value))
    for i in range(size):
        out[i::size] = view[size - 1 - i :: size]
    return bytes(out)


def file_meta_for(request: Message, transfer_syntax: str) -> FileMetaDataset:
    """File Meta Information for the dataset of a C-STORE request."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(str(getattr(request, "affected_sop_class_uid", "")))
    meta.MediaStorageSOPInstanceUID = UID(str(getattr(request, "affected_sop_instance_uid", "")))
    meta.TransferSyntaxUID = UID(transfer_syntax.rstrip("\x00"))
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def encoded_file(request: Message, transfer_syntax: str, data: bytes) -> BytesIO:
    """A whole PS3.10 file in memory: preamble, meta, then the bytes as received."""
    header = encode_file_meta(
        str(getattr(request, "affected_sop_class_uid", "")),
        str(getattr(request, "affected_sop_instance_uid", "")),
        transfer_syntax.rstrip("\x00"),
        IMPLEMENTATION_CLASS_UID,
        IMPLEMENTATION_VERSION_NAME,
    )
    return BytesIO(header + data)
