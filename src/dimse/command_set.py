"""Group 0000 command sets in implicit VR little endian (PS3.7 6.3.1, Annex E).

A command set is tiny (a C-STORE-RQ is ~150 bytes) and there is one per message, so it
gets a codec of its own: a table of the command elements used by C-ECHO/C-STORE/
C-FIND/C-GET/C-MOVE/C-CANCEL and a ``struct`` loop, instead of building a pydicom
``Dataset`` per message. Encoding and decoding take a few microseconds.

A command set is a ``dict`` from *element number* to value (the group is always 0000):
``int`` for US/UL, ``str`` for UI/AE/LO, ``tuple[int, ...]`` of tags for AT, and the raw
value ``bytes`` for any other group 0000 element (retired or N-service ones), which is
preserved on decode and written back unchanged on encode. On encode, ``bytes`` is
accepted for any element and written verbatim (it must have even length). (0000,0000) Command Group
Length is never in the dict: encode computes it, decode checks it.

Peers are checked structurally (lengths, group length, duplicates, non-ASCII UIDs and
AE titles -> :class:`ProtocolError` naming the element); value *contents* such as an
over-long UID are accepted on decode and only rejected when encoding our own messages.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from enum import IntEnum
from typing import Final, TypeAlias

from dimse.errors import ProtocolError, UsageError

__all__ = [
    "AFFECTED_SOP_CLASS_UID",
    "AFFECTED_SOP_INSTANCE_UID",
    "COMMAND_DATA_SET_TYPE",
    "COMMAND_FIELD",
    "COMMAND_GROUP_LENGTH",
    "C_CANCEL_RQ",
    "C_ECHO_RQ",
    "C_ECHO_RSP",
    "C_FIND_RQ",
    "C_FIND_RSP",
    "C_GET_RQ",
    "C_GET_RSP",
    "C_MOVE_RQ",
    "C_MOVE_RSP",
    "C_STORE_RQ",
    "C_STORE_RSP",
    "DATASET_PRESENT",
    "ELEMENTS",
    "ERROR_COMMENT",
    "ERROR_ID",
    "MESSAGE_ID",
    "MESSAGE_ID_BEING_RESPONDED_TO",
    "MOVE_DESTINATION",
    "MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE",
    "MOVE_ORIGINATOR_MESSAGE_ID",
    "NO_DATASET",
    "NUMBER_OF_COMPLETED_SUBOPERATIONS",
    "NUMBER_OF_FAILED_SUBOPERATIONS",
    "NUMBER_OF_REMAINING_SUBOPERATIONS",
    "NUMBER_OF_WARNING_SUBOPERATIONS",
    "OFFENDING_ELEMENT",
    "PRIORITY",
    "REQUESTED_SOP_CLASS_UID",
    "REQUESTED_SOP_INSTANCE_UID",
    "STATUS",
    "CommandField",
    "CommandSet",
    "CommandValue",
    "ElementSpec",
    "decode",
    "element_name",
    "encode",
    "encode_value",
]


class CommandField(IntEnum):
    """(0000,0100) values of the DIMSE-C messages (PS3.7 Table E.1-1)."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    C_CANCEL_RQ = 0x0FFF


C_STORE_RQ: Final = CommandField.C_STORE_RQ
C_STORE_RSP: Final = CommandField.C_STORE_RSP
C_GET_RQ: Final = CommandField.C_GET_RQ
C_GET_RSP: Final = CommandField.C_GET_RSP
C_FIND_RQ: Final = CommandField.C_FIND_RQ
C_FIND_RSP: Final = CommandField.C_FIND_RSP
C_MOVE_RQ: Final = CommandField.C_MOVE_RQ
C_MOVE_RSP: Final = CommandField.C_MOVE_RSP
C_ECHO_RQ: Final = CommandField.C_ECHO_RQ
C_ECHO_RSP: Final = CommandField.C_ECHO_RSP
C_CANCEL_RQ: Final = CommandField.C_CANCEL_RQ

# (0000,0800) Command Data Set Type: 0x0101 means "no data set"; PS3.7 Table E.1-1 says
# any other value means one follows. We send 0x0001 (as pynetdicom does).
NO_DATASET: Final = 0x0101
DATASET_PRESENT: Final = 0x0001

# Element numbers of group 0000 (PS3.7 Table E.1-1; VRs checked against pydicom's
# data dictionary in tests/protocol/test_command_set.py).
COMMAND_GROUP_LENGTH: Final = 0x0000
AFFECTED_SOP_CLASS_UID: Final = 0x0002
REQUESTED_SOP_CLASS_UID: Final = 0x0003
COMMAND_FIELD: Final = 0x0100
MESSAGE_ID: Final = 0x0110
MESSAGE_ID_BEING_RESPONDED_TO: Final = 0x0120
MOVE_DESTINATION: Final = 0x0600
PRIORITY: Final = 0x0700
COMMAND_DATA_SET_TYPE: Final = 0x0800
STATUS: Final = 0x0900
OFFENDING_ELEMENT: Final = 0x0901
ERROR_COMMENT: Final = 0x0902
ERROR_ID: Final = 0x0903
AFFECTED_SOP_INSTANCE_UID: Final = 0x1000
REQUESTED_SOP_INSTANCE_UID: Final = 0x1001
NUMBER_OF_REMAINING_SUBOPERATIONS: Final = 0x1020
NUMBER_OF_COMPLETED_SUBOPERATIONS: Final = 0x1021
NUMBER_OF_FAILED_SUBOPERATIONS: Final = 0x1022
NUMBER_OF_WARNING_SUBOPERATIONS: Final = 0x1023
MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE: Final = 0x1030
MOVE_ORIGINATOR_MESSAGE_ID: Final = 0x1031

CommandValue: TypeAlias = int | str | tuple[int, ...] | bytes
CommandSet: TypeAlias = dict[int, CommandValue]


class ElementSpec:
    """One known command element: keyword, VR and the longest value PS3.5 allows."""

    __slots__ = ("element", "keyword", "max_length", "vr")

    def __init__(self, element: int, keyword: str, vr: str, max_length: int) -> None:
        self.element = element
        self.keyword = keyword
        self.vr = vr
        self.max_length = max_length

    def __repr__(self) -> str:
        return f"ElementSpec((0000,{self.element:04X}) {self.keyword} {self.vr})"


_TABLE: tuple[tuple[int, str, str, int], ...] = (
    (COMMAND_GROUP_LENGTH, "CommandGroupLength", "UL", 4),
    (AFFECTED_SOP_CLASS_UID, "AffectedSOPClassUID", "UI", 64),
    (REQUESTED_SOP_CLASS_UID, "RequestedSOPClassUID", "UI", 64),
    (COMMAND_FIELD, "CommandField", "US", 2),
    (MESSAGE_ID, "MessageID", "US", 2),
    (MESSAGE_ID_BEING_RESPONDED_TO, "MessageIDBeingRespondedTo", "US", 2),
    (MOVE_DESTINATION, "MoveDestination", "AE", 16),
    (PRIORITY, "Priority", "US", 2),
    (COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", 2),
    (STATUS, "Status", "US", 2),
    (OFFENDING_ELEMENT, "OffendingElement", "AT", 0xFFFC),
    (ERROR_COMMENT, "ErrorComment", "LO", 64),
    (ERROR_ID, "ErrorID", "US", 2),
    (AFFECTED_SOP_INSTANCE_UID, "AffectedSOPInstanceUID", "UI", 64),
    (REQUESTED_SOP_INSTANCE_UID, "RequestedSOPInstanceUID", "UI", 64),
    (NUMBER_OF_REMAINING_SUBOPERATIONS, "NumberOfRemainingSuboperations", "US", 2),
    (NUMBER_OF_COMPLETED_SUBOPERATIONS, "NumberOfCompletedSuboperations", "US", 2),
    (NUMBER_OF_FAILED_SUBOPERATIONS, "NumberOfFailedSuboperations", "US", 2),
    (NUMBER_OF_WARNING_SUBOPERATIONS, "NumberOfWarningSuboperations", "US", 2),
    (MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE, "MoveOriginatorApplicationEntityTitle", "AE", 16),
    (MOVE_ORIGINATOR_MESSAGE_ID, "MoveOriginatorMessageID", "US", 2),
)

ELEMENTS: Final[Mapping[int, ElementSpec]] = {
    element: ElementSpec(element, keyword, vr, max_length)
    for element, keyword, vr, max_length in _TABLE
}

# VR kinds as small ints so the hot loops compare ints, not strings.
_US, _UL, _UI, _AE, _LO, _AT = range(6)
_KIND: Final[dict[int, int]] = {
    e.element: {"US": _US, "UL": _UL, "UI": _UI, "AE": _AE, "LO": _LO, "AT": _AT}[e.vr]
    for e in ELEMENTS.values()
}
_MAXLEN: Final[dict[int, int]] = {e.element: e.max_length for e in ELEMENTS.values()}

_HEADER = struct.Struct("<HHI")  # group, element, value length (implicit VR)
_HEADER_US = struct.Struct("<HHIH")  # a whole US element in one pack
_HEADER_UL = struct.Struct("<HHII")  # a whole UL element (the group length)


def element_name(element: int) -> str:
    """``(0000,0110) MessageID``: how errors name an element."""
    spec = ELEMENTS.get(element)
    suffix = f" {spec.keyword}" if spec is not None else ""
    return f"(0000,{element:04X}){suffix}"


def encode_value(element: int, value: CommandValue, *, strict: bool = True) -> bytes:
    """The even-length value field of one element (no header); UsageError if invalid.

    ``strict=False`` re-encodes what :func:`decode` accepted from a peer (an over-long
    UID, a non-ASCII Error Comment) without judging it again.
    """
    kind = _KIND.get(element)
    if isinstance(value, bytes | bytearray | memoryview) or kind is None:
        # Raw bytes are the value field as is, for any element (how messages keep
        # elements they do not define); unknown elements only take raw bytes.
        if not isinstance(value, bytes | bytearray | memoryview):
            raise UsageError(f"{element_name(element)}: unknown elements take raw bytes")
        raw = bytes(value)
        if len(raw) & 1:
            raise UsageError(f"{element_name(element)}: raw value has odd length {len(raw)}")
        return raw
    if kind in (_US, _UL):
        if not isinstance(value, int) or isinstance(value, bool):
            raise UsageError(f"{element_name(element)}: expected an int, got {value!r}")
        limit = 0xFFFF if kind == _US else 0xFFFFFFFF
        if not 0 <= value <= limit:
            raise UsageError(f"{element_name(element)}: {value} out of range 0..{limit}")
        return value.to_bytes(2 if kind == _US else 4, "little")
    if kind == _AT:
        if not isinstance(value, tuple):
            raise UsageError(f"{element_name(element)}: expected a tuple of tags")
        try:
            return b"".join(struct.pack("<HH", t >> 16, t & 0xFFFF) for t in value)
        except (struct.error, TypeError) as exc:
            raise UsageError(f"{element_name(element)}: invalid tag in {value!r}") from exc
    if not isinstance(value, str):
        raise UsageError(f"{element_name(element)}: expected a str, got {value!r}")
    if not strict:
        raw = value.encode("ascii", "replace")
        return raw + (b"\0" if kind == _UI else b" ") if len(raw) & 1 else raw
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise UsageError(f"{element_name(element)}: {value!r} is not ASCII") from exc
    if len(raw) > _MAXLEN[element]:
        raise UsageError(
            f"{element_name(element)}: {len(raw)} bytes, more than the {_MAXLEN[element]} allowed"
        )
    if kind == _UI and (b"\\" in raw or b"\0" in raw):
        raise UsageError(f"{element_name(element)}: {value!r} is not a UID")
    if len(raw) & 1:
        # PS3.5 6.2: UI pads with NUL, the text VRs (AE, LO) with a space.
        raw += b"\0" if kind == _UI else b" "
    return raw


def encode(elements: Mapping[int, CommandValue]) -> bytes:
    """Encode a command set: (0000,0000) first, then elements in ascending order.

    Keys are element numbers of group 0000, values as described in the module
    docstring. Raises UsageError for a value the VR cannot hold.
    """
    parts: list[bytes] = [b""]
    total = 0
    kinds = _KIND
    pack = _HEADER.pack
    pack_us = _HEADER_US.pack
    for element in sorted(elements):
        value = elements[element]
        kind = kinds.get(element)
        # Fast paths for the two commonest kinds; anything unusual (wrong type, out of
        # range, odd characters) falls through to encode_value, which explains it.
        if kind == _US and type(value) is not bool:
            try:
                parts.append(pack_us(0, element, 2, value))
                total += 10
                continue
            except struct.error:
                pass
        elif (
            kind == _UI
            and type(value) is str
            and len(value) <= 64
            and value.isascii()
            and "\\" not in value
            and "\0" not in value
        ):
            raw = value.encode()
            if len(raw) & 1:
                raw += b"\0"
            parts.append(pack(0, element, len(raw)))
            parts.append(raw)
            total += 8 + len(raw)
            continue
        if element == COMMAND_GROUP_LENGTH:
            raise UsageError("(0000,0000) CommandGroupLength is computed, do not pass it")
        if not 0 < element <= 0xFFFF:
            raise UsageError(f"element number {element!r} is not in 0x0001..0xFFFF")
        raw = encode_value(element, value)
        parts.append(pack(0, element, len(raw)))
        parts.append(raw)
        total += 8 + len(raw)
    parts[0] = _HEADER_UL.pack(0, COMMAND_GROUP_LENGTH, 4, total)
    return b"".join(parts)


def _fail(message: str, element: int, offset: int) -> ProtocolError:
    return ProtocolError(message, where=f"command set {element_name(element)} at byte {offset}")


def decode(data: bytes | bytearray | memoryview) -> CommandSet:
    """Decode a whole command set received from a peer.

    Checks that (0000,0000) comes first with the exact length of what follows, that
    every element is of group 0000, fits in the buffer, has the length its VR needs and
    appears once. Anything else is a ProtocolError whose ``where`` names the element.
    """
    buf = data if type(data) is bytes else bytes(data)
    size = len(buf)
    if size < 12:
        raise ProtocolError(
            f"command set of {size} bytes is shorter than its group length element",
            where="command set (0000,0000) CommandGroupLength at byte 0",
        )
    group, element, length, group_length = _HEADER_UL.unpack_from(buf, 0)
    if group != 0 or element != 0 or length != 4:
        raise ProtocolError(
            f"command set must start with (0000,0000) UL, found ({group:04X},{element:04X}) "
            f"with length {length}",
            where="command set (0000,0000) CommandGroupLength at byte 0",
        )
    if group_length != size - 12:
        raise ProtocolError(
            f"group length says {group_length} bytes follow but {size - 12} do",
            where="command set (0000,0000) CommandGroupLength at byte 8",
        )
    out: CommandSet = {}
    kinds = _KIND
    unpack_header = _HEADER.unpack_from
    pos = 12
    while pos < size:
        if pos + 8 > size:
            raise ProtocolError(
                f"{size - pos} trailing bytes are not an element header",
                where=f"command set element header at byte {pos}",
            )
        group, element, length = unpack_header(buf, pos)
        start = pos + 8
        end = start + length
        if group != 0:
            raise ProtocolError(
                f"element ({group:04X},{element:04X}) is not in group 0000",
                where=f"command set ({group:04X},{element:04X}) at byte {pos}",
            )
        if end > size:
            raise _fail(
                f"value length {length} runs past the end ({size - start} left)", element, pos
            )
        if element in out or element == 0:
            raise _fail("element appears twice", element, pos)
        kind = kinds.get(element)
        value: CommandValue
        if kind == _US:
            if length != 2:
                raise _fail(f"US value must be 2 bytes, not {length}", element, pos)
            value = buf[start] | (buf[start + 1] << 8)
        elif kind in (_UI, _AE):
            try:
                text = buf[start:end].decode("ascii")
            except UnicodeDecodeError:
                raise _fail("value is not ASCII", element, pos) from None
            value = text.rstrip("\0 ") if kind == _UI else text.strip(" \0")
        elif kind == _LO:
            value = buf[start:end].decode("ascii", "replace").strip(" ")
        elif kind == _AT:
            if length & 3:
                raise _fail(f"AT value length {length} is not a multiple of 4", element, pos)
            words = struct.unpack_from(f"<{length // 2}H", buf, start)
            value = tuple((words[i] << 16) | words[i + 1] for i in range(0, len(words), 2))
        elif kind == _UL:
            if length != 4:
                raise _fail(f"UL value must be 4 bytes, not {length}", element, pos)
            value = int.from_bytes(buf[start:end], "little")
        else:
            value = buf[start:end]
        out[element] = value
        pos = end
    return out
