"""A-ASSOCIATE variable items: presentation contexts and unknown items (PS3.8 9.3.2-9.3.3).

The application context item is a plain ``str`` field of the A-ASSOCIATE PDUs and the
user information item lives in :mod:`dimse.pdu.user_information`.

Every class keeps the exact wire text of its UIDs (a trailing NUL pad included) and,
in hidden fields, the reserved bytes and sub-item order a peer sent, so a decoded item
re-encodes byte for byte (see the package docstring).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

import attrs

from dimse.errors import UsageError
from dimse.pdu._wire import (
    UNEXPECTED,
    assemble,
    check_uid_text,
    context_id,
    encode_item,
    fail,
    hex_preview,
    hidden,
    hint_or_zeros,
    indent,
    item_name,
    iter_items,
    octets,
    one_of,
    reserved_hint,
    reserved_note,
    text,
    tuple_of,
    uid,
    uid_label,
    uint,
    unchecked,
    wire_order,
)

__all__ = [
    "APPLICATION_CONTEXT_NAME",
    "ItemType",
    "PresentationContextAC",
    "PresentationContextRQ",
    "UnknownItem",
]

APPLICATION_CONTEXT_NAME = "1.2.840.10008.3.1.1.1"
"""The DICOM application context name (PS3.7 A.2.1); the only one DICOM defines."""


class ItemType(IntEnum):
    """Item and sub-item types of PS3.8 9.3 and PS3.7 D.3.3."""

    APPLICATION_CONTEXT = 0x10
    PRESENTATION_CONTEXT_RQ = 0x20
    PRESENTATION_CONTEXT_AC = 0x21
    ABSTRACT_SYNTAX = 0x30
    TRANSFER_SYNTAX = 0x40
    USER_INFORMATION = 0x50
    MAXIMUM_LENGTH = 0x51
    IMPLEMENTATION_CLASS_UID = 0x52
    ASYNCHRONOUS_OPERATIONS_WINDOW = 0x53
    SCP_SCU_ROLE_SELECTION = 0x54
    IMPLEMENTATION_VERSION_NAME = 0x55
    SOP_CLASS_EXTENDED_NEGOTIATION = 0x56
    SOP_CLASS_COMMON_EXTENDED_NEGOTIATION = 0x57
    USER_IDENTITY_RQ = 0x58
    USER_IDENTITY_AC = 0x59


class _Dumpable:
    """``describe()``/``str()`` for every item: the multi-line dump PDU logging prints."""

    __slots__ = ()

    def describe_lines(self) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        """A multi-line, human-readable dump of this item."""
        return "\n".join(self.describe_lines())

    def __str__(self) -> str:
        return self.describe()


@attrs.frozen
class UnknownItem(_Dumpable):
    """An item of a type this level does not define; PS3.8 9.3.1 says skip it.

    It is kept (not dropped) so a decoded PDU re-encodes identically and a log shows it.
    """

    item_type: int = attrs.field(validator=uint(8))
    data: bytes = attrs.field(validator=octets(0xFFFF))
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The item with its 4-byte header."""
        return encode_item(self.item_type, hint_or_zeros(self._reserved, 1)[0], self.data)

    def describe_lines(self) -> list[str]:
        return [
            f"Unknown {item_name(self.item_type)}, {len(self.data)} bytes: "
            f"{hex_preview(self.data)}",
            *reserved_note(self._reserved),
        ]


def decode_unknown(buf: bytes, item_type: int, reserved: int, pos: int, end: int) -> UnknownItem:
    """An item nobody recognises at this level, kept verbatim."""
    return unchecked(
        UnknownItem,
        item_type=item_type,
        data=buf[pos + 4 : end],
        _reserved=reserved_hint((reserved,)),
    )


def _check_ts_tuple(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    tuple_of(str)(instance, attribute, value)
    if not value:
        raise UsageError(f"{attribute.name}: propose at least one transfer syntax")
    for i, each in enumerate(value):
        check_uid_text(f"{attribute.name}[{i}]", each)


@attrs.frozen
class PresentationContextRQ(_Dumpable):
    """Presentation context item of an A-ASSOCIATE-RQ (PS3.8 9.3.2.2).

    ``unknown_items`` holds sub-items of types PS3.8 does not define here (skipped by
    the standard's rule, kept for re-encoding); it is empty for anything real.
    """

    item_type: ClassVar[ItemType] = ItemType.PRESENTATION_CONTEXT_RQ

    context_id: int = attrs.field(validator=context_id)
    abstract_syntax: str = attrs.field(validator=uid)
    transfer_syntaxes: tuple[str, ...] = attrs.field(validator=_check_ts_tuple)
    unknown_items: tuple[UnknownItem, ...] = attrs.field(
        default=(), validator=tuple_of(UnknownItem)
    )
    # header, 3 reserved body bytes, abstract syntax header, one per transfer syntax
    _reserved: bytes = hidden(b"")
    _order: tuple[int, ...] | None = hidden(None)

    def encode(self) -> bytes:
        """The item with its header and sub-items."""
        r = hint_or_zeros(self._reserved, 5 + len(self.transfer_syntaxes))
        parts = [(0x30, encode_item(0x30, r[4], self.abstract_syntax.encode("latin-1")))]
        parts.extend(
            (0x40, encode_item(0x40, r[5 + i], ts.encode("latin-1")))
            for i, ts in enumerate(self.transfer_syntaxes)
        )
        parts.extend((u.item_type, u.encode()) for u in self.unknown_items)
        body = bytes((self.context_id, r[1], r[2], r[3])) + assemble(parts, self._order)
        return encode_item(0x20, r[0], body)

    def describe_lines(self) -> list[str]:
        lines = [
            f"Abstract syntax: {uid_label(self.abstract_syntax)}",
            *(f"Transfer syntax: {uid_label(ts)}" for ts in self.transfer_syntaxes),
        ]
        for unknown in self.unknown_items:
            lines.extend(unknown.describe_lines())
        lines.extend(reserved_note(self._reserved))
        return [f"Presentation context (RQ) ID {self.context_id}", *indent(lines)]


def decode_pc_rq(
    buf: bytes, pos: int, end: int, reserved: int, where: str
) -> PresentationContextRQ:
    """Decode the presentation context item whose header starts at ``pos``."""
    where = f"{where} > {item_name(0x20)}"
    if end - pos < 8:
        fail("too short for its context ID and reserved fields", where, pos)
    cid = buf[pos + 4]
    if not cid & 1:
        fail(f"presentation context ID {cid} is not an odd number 1..255", where, pos + 4)
    abstract: str | None = None
    abstract_reserved = 0
    syntaxes: list[str] = []
    syntax_reserved: list[int] = []
    unknown: list[UnknownItem] = []
    types: list[int] = []
    for item_type, item_reserved, ipos, iend in iter_items(buf, pos + 8, end, where):
        types.append(item_type)
        if item_type == 0x30:
            if abstract is not None:
                fail("a second Abstract Syntax sub-item", where, ipos, UNEXPECTED)
            abstract = text(buf[ipos + 4 : iend])
            abstract_reserved = item_reserved
        elif item_type == 0x40:
            syntaxes.append(text(buf[ipos + 4 : iend]))
            syntax_reserved.append(item_reserved)
        else:
            unknown.append(decode_unknown(buf, item_type, item_reserved, ipos, iend))
    if abstract is None:
        fail("no Abstract Syntax sub-item", where, pos)
    if not syntaxes:
        fail("no Transfer Syntax sub-item", where, pos)
    return unchecked(
        PresentationContextRQ,
        context_id=cid,
        abstract_syntax=abstract,
        transfer_syntaxes=tuple(syntaxes),
        unknown_items=tuple(unknown),
        _reserved=reserved_hint(
            (reserved, *buf[pos + 5 : pos + 8], abstract_reserved, *syntax_reserved)
        ),
        _order=wire_order(types),
    )


PRESENTATION_RESULTS = {
    0: "acceptance",
    1: "user-rejection",
    2: "no-reason (provider rejection)",
    3: "abstract-syntax-not-supported (provider rejection)",
    4: "transfer-syntaxes-not-supported (provider rejection)",
}


def _check_ac_ts(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # PS3.8 9.3.3.2: the transfer syntax is not significant unless the result is 0.
    if isinstance(value, str) and value == "" and instance.result != 0:
        return
    uid(instance, attribute, value)


@attrs.frozen
class PresentationContextAC(_Dumpable):
    """Presentation context item of an A-ASSOCIATE-AC (PS3.8 9.3.3.2).

    ``result`` is 0 (acceptance) .. 4; for a rejected context ``transfer_syntax`` may be
    "" (it is "not significant" and "not tested" on receipt). A decoded rejected context
    whose peer left the transfer syntax sub-item out re-encodes without it.
    """

    item_type: ClassVar[ItemType] = ItemType.PRESENTATION_CONTEXT_AC

    context_id: int = attrs.field(validator=context_id)
    result: int = attrs.field(validator=one_of(PRESENTATION_RESULTS))
    transfer_syntax: str = attrs.field(validator=_check_ac_ts)
    unknown_items: tuple[UnknownItem, ...] = attrs.field(
        default=(), validator=tuple_of(UnknownItem)
    )
    # header, reserved byte 6, reserved byte 8, transfer syntax header
    _reserved: bytes = hidden(b"")
    _order: tuple[int, ...] | None = hidden(None)

    @property
    def accepted(self) -> bool:
        """Result 0: the context can carry P-DATA."""
        return self.result == 0

    def encode(self) -> bytes:
        """The item with its header and transfer syntax sub-item."""
        r = hint_or_zeros(self._reserved, 4)
        parts = [(0x40, encode_item(0x40, r[3], self.transfer_syntax.encode("latin-1")))]
        parts.extend((u.item_type, u.encode()) for u in self.unknown_items)
        body = bytes((self.context_id, r[1], self.result, r[2])) + assemble(parts, self._order)
        return encode_item(0x21, r[0], body)

    def describe_lines(self) -> list[str]:
        result = PRESENTATION_RESULTS.get(self.result, "unknown")
        lines = [
            f"Result: {self.result} ({result})",
            f"Transfer syntax: {uid_label(self.transfer_syntax)}",
        ]
        for unknown in self.unknown_items:
            lines.extend(unknown.describe_lines())
        lines.extend(reserved_note(self._reserved))
        return [f"Presentation context (AC) ID {self.context_id}", *indent(lines)]


def decode_pc_ac(
    buf: bytes, pos: int, end: int, reserved: int, where: str
) -> PresentationContextAC:
    """Decode the presentation context item whose header starts at ``pos``."""
    where = f"{where} > {item_name(0x21)}"
    if end - pos < 8:
        fail("too short for its context ID, result and reserved fields", where, pos)
    cid = buf[pos + 4]
    if not cid & 1:
        fail(f"presentation context ID {cid} is not an odd number 1..255", where, pos + 4)
    result = buf[pos + 6]
    syntax: str | None = None
    syntax_reserved = 0
    unknown: list[UnknownItem] = []
    types: list[int] = []
    for item_type, item_reserved, ipos, iend in iter_items(buf, pos + 8, end, where):
        types.append(item_type)
        if item_type == 0x40:
            if syntax is not None:
                fail("a second Transfer Syntax sub-item", where, ipos, UNEXPECTED)
            syntax = text(buf[ipos + 4 : iend])
            syntax_reserved = item_reserved
        else:
            unknown.append(decode_unknown(buf, item_type, item_reserved, ipos, iend))
    if syntax is None:
        if result == 0:
            fail("accepted context without a Transfer Syntax sub-item", where, pos)
        syntax = ""  # rejected: the sub-item is not significant, some peers omit it
    canonical = sorted([0x40, *(u.item_type for u in unknown)])
    return unchecked(
        PresentationContextAC,
        context_id=cid,
        result=result,
        transfer_syntax=syntax,
        unknown_items=tuple(unknown),
        _reserved=reserved_hint((reserved, buf[pos + 5], buf[pos + 7], syntax_reserved)),
        _order=wire_order(types, canonical),
    )
