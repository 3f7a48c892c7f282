"""PS3.10 files without decoding datasets: the File Meta Information group, both ways.

A Storage SCP receives a dataset already encoded in the negotiated transfer syntax; to
store it, only the 128-byte preamble, "DICM" and the group 0002 header are written in
front of the received bytes, so the file holds exactly what was sent. A Storage SCU
reads the same header back to learn the transfer syntax and where the dataset starts,
then sends the rest of the file as it is. Neither side needs pydicom on that path.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import struct
from pathlib import Path
from typing import BinaryIO

import attrs

from dimse.errors import UsageError

__all__ = [
    "FileMeta",
    "InstanceFile",
    "Part10Error",
    "ScannedFile",
    "encode_file_meta",
    "fsync_directory",
    "is_valid_uid",
    "read_file_meta",
]

PREAMBLE = b"\x00" * 128 + b"DICM"
_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
_TAG = struct.Struct("<HH")
_SHORT = struct.Struct("<HH2sH")  # group, element, VR, 2-byte length
_LONG = struct.Struct("<HH2s2xI")  # group, element, VR, reserved, 4-byte length
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"})
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
# The meta group is small; a "length" beyond this is a corrupt or hostile file.
_MAX_META_LENGTH = 1 << 16
# A received instance gets the mode any new file would (0666 less the umask, applied
# by the kernel at open), so other readers (a PACS importer, a viewer) can open it;
# mkstemp's 0600 would hide it. O_EXCL plus a random name keeps mkstemp's safety.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


class Part10Error(UsageError):
    """A local file is not a usable PS3.10 file (names the path and what is wrong)."""


def is_valid_uid(uid: str) -> bool:
    """PS3.5 9.1: digits and dots, no empty or zero-led component, at most 64 chars.

    Checked before a UID becomes a file name, so a hostile peer cannot escape the
    output directory with ``../`` or an absolute path.
    """
    return 0 < len(uid) <= 64 and _UID_RE.match(uid) is not None


@attrs.frozen
class FileMeta:
    """What a sender needs from a file header: UIDs, transfer syntax, dataset offset."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    dataset_offset: int
    implementation_class_uid: str = ""
    implementation_version_name: str = ""
    source_ae_title: str = ""


@attrs.frozen
class ScannedFile:
    """A PS3.10 file whose header was read already, as a C-STORE source.

    ``dimse storescu`` reads every header up front to propose the right contexts;
    handing the result to ``send_c_store`` spares reading and parsing it again.
    """

    path: Path
    meta: FileMeta

    def __fspath__(self) -> str:
        return str(self.path)


def _uid_value(uid: str) -> bytes:
    raw = uid.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _text_value(text: str) -> bytes:
    raw = text.encode("ascii")
    return raw + b" " if len(raw) % 2 else raw


def _element(element: int, vr: bytes, value: bytes) -> bytes:
    if vr in _LONG_VRS:
        return _LONG.pack(0x0002, element, vr, len(value)) + value
    return _SHORT.pack(0x0002, element, vr, len(value)) + value


def encode_file_meta(
    sop_class_uid: str,
    sop_instance_uid: str,
    transfer_syntax_uid: str,
    implementation_class_uid: str,
    implementation_version_name: str = "",
    source_ae_title: str = "",
) -> bytes:
    """Preamble, "DICM" and the group 0002 elements (explicit VR little endian)."""
    body = b"".join(
        [
            _element(0x0001, b"OB", b"\x00\x01"),
            _element(0x0002, b"UI", _uid_value(sop_class_uid)),
            _element(0x0003, b"UI", _uid_value(sop_instance_uid)),
            _element(0x0010, b"UI", _uid_value(transfer_syntax_uid)),
            _element(0x0012, b"UI", _uid_value(implementation_class_uid)),
            *(
                [_element(0x0013, b"SH", _text_value(implementation_version_name))]
                if implementation_version_name
                else []
            ),
            *([_element(0x0016, b"AE", _text_value(source_ae_title))] if source_ae_title else []),
        ]
    )
    group_length = _element(0x0000, b"UL", struct.pack("<I", len(body)))
    return PREAMBLE + group_length + body


def read_file_meta(source: str | os.PathLike[str] | BinaryIO, name: str = "") -> FileMeta:
    """Parse the preamble and group 0002 of a file - a path, or a binary handle at the
    file's start (``name`` labels errors) - and raise Part10Error if absent or bad."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            return _read_meta(handle, os.fspath(source))
    return _read_meta(source, name or str(getattr(source, "name", "<stream>")))


def _read_meta(handle: BinaryIO, name: str) -> FileMeta:
    head = handle.read(132)
    if len(head) < 132 or head[128:132] != b"DICM":
        raise Part10Error(f"{name}: no DICOM preamble ('DICM' at byte 128)")
    first = handle.read(12)
    if len(first) < 12:
        raise Part10Error(f"{name}: file meta information truncated at byte 132")
    group, element, vr, length = _SHORT.unpack_from(first)
    if (group, element, vr, length) != (0x0002, 0x0000, b"UL", 4):
        raise Part10Error(f"{name}: byte 132: expected (0002,0000) UL File Meta group length")
    (meta_length,) = struct.unpack_from("<I", first, 8)
    if meta_length > _MAX_META_LENGTH:
        raise Part10Error(f"{name}: byte 140: file meta group length {meta_length} is implausible")
    body = handle.read(meta_length)
    if len(body) < meta_length:
        raise Part10Error(f"{name}: file meta group truncated (expected {meta_length} bytes)")
    values = _parse_meta_body(body, name, 144)
    offset = 144 + meta_length
    # Some writers leave group 0002 elements outside the declared group length; skip them.
    offset += _trailing_meta(handle, values, name, offset)

    def text(element: int) -> str:
        return values.get(element, b"").rstrip(b"\x00 ").decode("ascii", "replace")

    missing = [f"(0002,{e:04X})" for e in (0x0002, 0x0003, 0x0010) if not text(e)]
    if missing:
        raise Part10Error(f"{name}: file meta lacks {', '.join(missing)}")
    return FileMeta(
        sop_class_uid=text(0x0002),
        sop_instance_uid=text(0x0003),
        transfer_syntax_uid=text(0x0010),
        dataset_offset=offset,
        implementation_class_uid=text(0x0012),
        implementation_version_name=text(0x0013),
        source_ae_title=text(0x0016),
    )


def _parse_meta_body(body: bytes, name: str, base: int) -> dict[int, bytes]:
    values: dict[int, bytes] = {}
    pos = 0
    while pos < len(body):
        element, value, pos = _next_element(body, pos, name, base)
        values[element] = value
    return values


def _next_element(body: bytes, pos: int, name: str, base: int) -> tuple[int, bytes, int]:
    if pos + 8 > len(body):
        raise Part10Error(f"{name}: byte {base + pos}: truncated file meta element")
    group, element, vr, length = _SHORT.unpack_from(body, pos)
    if group != 0x0002:
        raise Part10Error(f"{name}: byte {base + pos}: ({group:04X},{element:04X}) in file meta")
    if vr in _LONG_VRS:
        if pos + 12 > len(body):
            raise Part10Error(f"{name}: byte {base + pos}: truncated file meta element")
        group, element, vr, length = _LONG.unpack_from(body, pos)
        start = pos + 12
    else:
        start = pos + 8
    end = start + length
    if end > len(body):
        raise Part10Error(
            f"{name}: byte {base + pos}: (0002,{element:04X}) overruns the file meta group"
        )
    return element, body[start:end], end


def _trailing_meta(handle: BinaryIO, values: dict[int, bytes], name: str, offset: int) -> int:
    extra = 0
    while True:
        peek = handle.read(4)
        if len(peek) < 4 or _TAG.unpack(peek)[0] != 0x0002:
            return extra
        rest = handle.read(_MAX_META_LENGTH)
        element, value, end = _next_element(peek + rest, 0, name, offset + extra)
        values[element] = value
        extra += end
        handle.seek(offset + extra)


@attrs.define
class InstanceFile:
    """One received instance on its way to disk; a dataset sink for the DIMSE layer.

    Bytes go to a hidden temporary file in the destination directory; ``close()``
    flushes, optionally fsyncs, and atomically renames it to its final name, so a
    reader (or a crash) never sees a partial instance. ``discard()`` removes it.
    Duplicate policy: the newest complete copy replaces an older file of the same
    SOP Instance UID (``os.replace``), which is what a retried send expects.
    """

    final_path: Path
    fsync: bool = True
    _handle: BinaryIO | None = attrs.field(default=None, alias="_handle")
    _temp_path: str | None = attrs.field(default=None, alias="_temp_path")
    size: int = 0

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        meta: bytes,
        sop_instance_uid: str,
        *,
        fsync: bool = True,
        suffix: str = "",
    ) -> InstanceFile:
        """Open the temporary file and write ``meta`` (from :func:`encode_file_meta`)."""
        if not is_valid_uid(sop_instance_uid):
            raise UsageError(f"refusing to name a file after invalid UID {sop_instance_uid!r}")
        folder = os.fspath(directory)
        fd, temp = _create_temp(folder, sop_instance_uid)
        handle = os.fdopen(fd, "wb", buffering=0)
        try:
            handle.write(meta)
        except BaseException:
            handle.close()
            os.unlink(temp)
            raise
        return cls(
            final_path=Path(folder, f"{sop_instance_uid}{suffix}"),
            fsync=fsync,
            _handle=handle,
            _temp_path=temp,
            size=len(meta),
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._handle is None:
            raise UsageError(f"{self.final_path}: write after close")
        self._handle.write(data)
        self.size += len(data)

    def close(self) -> Path:
        """Make the instance visible under its final name; return that path."""
        if self._handle is None or self._temp_path is None:
            raise UsageError(f"{self.final_path}: closed twice")
        handle, temp = self._handle, self._temp_path
        self._handle = self._temp_path = None
        try:
            if self.fsync:
                os.fsync(handle.fileno())
            handle.close()
            os.replace(temp, self.final_path)
        except BaseException:
            handle.close()
            _unlink_quietly(temp)
            raise
        if self.fsync:
            fsync_directory(self.final_path.parent)
        return self.final_path

    def discard(self) -> None:
        """Drop the partial instance (aborted transfer, failed decode)."""
        if self._handle is None or self._temp_path is None:
            return
        handle, temp = self._handle, self._temp_path
        self._handle = self._temp_path = None
        handle.close()
        _unlink_quietly(temp)


_TEMP_SERIAL = itertools.count()


def _create_temp(folder: str, uid: str) -> tuple[int, str]:
    """A new hidden ``.<uid>.<pid>-<n>.part`` beside the final file (O_EXCL: never an
    existing file; no random bytes needed, the serial is unique within the process)."""
    for _ in range(100):
        temp = os.path.join(folder, f".{uid}.{os.getpid()}-{next(_TEMP_SERIAL)}.part")
        try:
            return os.open(temp, _TEMP_FLAGS, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free temporary name for {uid}")


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename or creation in ``directory`` durable (best effort: some file
    systems refuse to open or fsync a directory, which then costs nothing)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
