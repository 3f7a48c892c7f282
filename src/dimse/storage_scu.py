"""What a C-STORE sends: the accepted context and the dataset bytes, chosen per source.

A PS3.10 file whose transfer syntax was accepted for its SOP class goes out as the
bytes after its File Meta group - never decoded, streamed in chunks when large. A file
in a syntax the peer did not accept is decoded and re-encoded in one it did, if pydicom
can (native pixel data, or decompression with a handler installed); otherwise a
UsageError names the file, its syntax and what was accepted. A pydicom Dataset is
encoded in its own syntax if accepted, else in an accepted uncompressed one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import attrs

from dimse.errors import UsageError
from dimse.part10 import FileMeta, Part10Error, ScannedFile, read_file_meta
from dimse.uid import (
    UID,
    UNCOMPRESSED_TRANSFER_SYNTAXES,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dimse.association import Association, StoreSource
    from dimse.negotiation import AcceptedContext

__all__ = ["PreparedStore", "prepare_store"]

_UNCOMPRESSED = UNCOMPRESSED_TRANSFER_SYNTAXES
_WHOLE_READ_LIMIT = 8 << 20  # read smaller files in one call; stream larger ones
_CHUNK = 4 << 20


@attrs.define
class PreparedStore:
    context: AcceptedContext
    sop_class_uid: str
    sop_instance_uid: str
    payload: bytes | memoryview | Iterator[bytes]
    _handle: BinaryIO | None = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _chunks(handle: BinaryIO, offset: int) -> Iterator[bytes]:
    handle.seek(offset)
    while True:
        chunk = handle.read(_CHUNK)
        if not chunk:
            return
        yield chunk


def _contexts_for(assoc: Association, sop_class_uid: str) -> list[AcceptedContext]:
    found = [c for c in assoc.negotiated.contexts_for(sop_class_uid) if c.scu_role]
    if not found:
        raise UsageError(
            f"no accepted presentation context for SOP class {sop_class_uid} "
            f"({UID(sop_class_uid).name}); propose it with add_requested_context()"
        )
    return found


def _pick(contexts: list[AcceptedContext], syntax: str) -> AcceptedContext | None:
    return next((c for c in contexts if c.transfer_syntax == syntax), None)


def _uncompressed(contexts: list[AcceptedContext]) -> AcceptedContext | None:
    for syntax in _UNCOMPRESSED:
        chosen = _pick(contexts, syntax)
        if chosen is not None:
            return chosen
    return None


def prepare_store(assoc: Association, source: StoreSource) -> PreparedStore:
    if isinstance(source, ScannedFile):
        return _prepare_file(assoc, source.path, source.meta)
    if isinstance(source, (str, os.PathLike)):
        return _prepare_file(assoc, Path(os.fspath(source)))
    from pydicom.dataset import Dataset  # only a caller with a Dataset needs pydicom

    if not isinstance(source, Dataset):
        raise UsageError(
            f"send_c_store takes a pydicom Dataset or a file path, not {type(source).__name__}"
        )
    return _prepare_dataset(assoc, source, None)


def _prepare_file(assoc: Association, path: Path, scanned: FileMeta | None = None) -> PreparedStore:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below or by PreparedStore.close
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    try:
        size = os.fstat(handle.fileno()).st_size
        whole = handle.read() if size <= _WHOLE_READ_LIMIT else None
        if scanned is not None and _still_there(scanned, whole):
            meta = scanned
        else:
            meta = read_file_meta(BytesIO(whole) if whole is not None else handle, str(path))
    except Part10Error:
        handle.close()
        return _prepare_dataset(assoc, _read_with_pydicom(path), path)
    except BaseException:
        handle.close()
        raise
    contexts = _contexts_for(assoc, meta.sop_class_uid)
    context = _pick(contexts, meta.transfer_syntax_uid)
    odd = (size - meta.dataset_offset) % 2 == 1
    if context is None or odd:
        # Not accepted as it is, or a malformed file with an odd-length data set, which
        # no PDV may carry (PS3.5 7.1.1: values have even lengths; dcmtk aborts on it):
        # pydicom re-encodes it, padding odd values once they are decoded (it would
        # write undecoded ones back as they were).
        handle.close()
        dataset = _read_with_pydicom(path)
        if odd:
            from dimse.datasets import materialise

            materialise(dataset)
        return _prepare_dataset(assoc, dataset, path)
    if whole is not None:
        handle.close()
        payload: bytes | memoryview | Iterator[bytes] = memoryview(whole)[meta.dataset_offset :]
        return PreparedStore(context, meta.sop_class_uid, meta.sop_instance_uid, payload)
    return PreparedStore(
        context,
        meta.sop_class_uid,
        meta.sop_instance_uid,
        _chunks(handle, meta.dataset_offset),
        handle,
    )


def _still_there(meta: FileMeta, whole: bytes | None) -> bool:
    """Whether a header read earlier still describes the bytes read now (the file may
    have been replaced since): same header length, same UIDs in it. Only for files read
    whole; others are parsed again."""
    offset = meta.dataset_offset
    if whole is None or len(whole) < offset or whole[128:132] != b"DICM":
        return False
    header = whole[144:offset]
    return (
        int.from_bytes(whole[140:144], "little") + 144 <= offset
        and whole[offset : offset + 2] != b"\x02\x00"
        and meta.sop_instance_uid.encode() in header
        and meta.transfer_syntax_uid.encode() in header
    )


def _read_with_pydicom(path: Path) -> Dataset:
    from pydicom import dcmread

    try:
        return dcmread(path, force=True)
    except Exception as exc:
        raise UsageError(f"{path}: not a readable DICOM file ({_one_line(exc)})") from exc


def _prepare_dataset(assoc: Association, dataset: Dataset, path: Path | None) -> PreparedStore:
    name = str(path) if path is not None else "dataset"
    sop_class = getattr(dataset, "SOPClassUID", None)
    sop_instance = getattr(dataset, "SOPInstanceUID", None)
    if not sop_class or not sop_instance:
        raise UsageError(f"{name}: no SOPClassUID/SOPInstanceUID to store it under")
    contexts = _contexts_for(assoc, str(sop_class))
    meta = getattr(dataset, "file_meta", None)
    own = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if own is None:
        own = (
            ImplicitVRLittleEndian
            if dataset.is_implicit_VR in (True, None)
            else (
                ExplicitVRLittleEndian
                if dataset.is_little_endian in (True, None)
                else ExplicitVRBigEndian
            )
        )
    own = UID(str(own))
    context = _pick(contexts, own)
    from dimse.datasets import encode_dataset  # pydicom, needed only for Datasets

    if context is not None and own.is_compressed:
        return PreparedStore(
            context, str(sop_class), str(sop_instance), encode_dataset(dataset, own)
        )
    if own.is_compressed and "PixelData" in dataset:
        try:
            dataset = dataset.copy()
            dataset.decompress()
        except Exception as exc:
            accepted = ", ".join(sorted({c.transfer_syntax for c in contexts}))
            raise UsageError(
                f"{name}: {own.name} was not accepted (accepted: {accepted}) and "
                f"pydicom cannot decompress it: {_one_line(exc)}"
            ) from exc
    context = context or _uncompressed(contexts)
    if context is None:
        accepted = ", ".join(sorted({c.transfer_syntax for c in contexts}))
        raise UsageError(f"{name}: cannot convert {own.name} to any accepted syntax ({accepted})")
    return PreparedStore(
        context, str(sop_class), str(sop_instance), encode_dataset(dataset, context.transfer_syntax)
    )


def _one_line(exc: BaseException) -> str:
    """pydicom's messages may list one plugin per line; an app prints one line per file."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
