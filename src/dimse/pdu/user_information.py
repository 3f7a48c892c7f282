"""The user information item and its sub-items (PS3.8 9.3.2.3, Annex D; PS3.7 D.3.3).

:class:`UserInformation` keeps its sub-items in wire order (PS3.8 9.3.2.3: order has no
significance, but a re-encoded PDU must match the bytes received). Sub-item types PS3.7
does not define are kept as :class:`~dimse.pdu.items.UnknownItem` (PS3.8 D.2 note 2:
acceptors must ignore them, not reject the association).

Every known sub-item type is decoded the same way in an RQ and an AC; which ones are
meaningful where is for :mod:`dimse.negotiation` to judge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeAlias

import attrs

from dimse.errors import UsageError
from dimse.pdu._wire import (
    INVALID,
    U16,
    U16_PAIR,
    U32,
    boolean,
    encode_item,
    encode_u16_text,
    fail,
    g0_text,
    hex_preview,
    hidden,
    hint_or_zeros,
    indent,
    item_name,
    iter_items,
    octets,
    reserved_hint,
    reserved_note,
    text,
    tuple_of,
    uid_label,
    uid_tuple,
    uint,
    unchecked,
)
from dimse.pdu._wire import uid as uid_validator
from dimse.pdu.items import ItemType, UnknownItem, _Dumpable, decode_unknown

__all__ = [
    "AsynchronousOperationsWindow",
    "ImplementationClassUID",
    "ImplementationVersionName",
    "MaximumLength",
    "RoleSelection",
    "SOPClassCommonExtendedNegotiation",
    "SOPClassExtendedNegotiation",
    "SubItem",
    "UserIdentityAC",
    "UserIdentityRQ",
    "UserInformation",
]


def _header(hint: bytes) -> int:
    return hint_or_zeros(hint, 1)[0]


@attrs.frozen
class MaximumLength(_Dumpable):
    """Maximum Length sub-item (PS3.8 D.1): the largest P-DATA-TF variable field the
    sender will receive; 0 means no limit."""

    item_type: ClassVar[ItemType] = ItemType.MAXIMUM_LENGTH

    maximum_length: int = attrs.field(validator=uint(32))
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The sub-item with its header."""
        return encode_item(0x51, _header(self._reserved), U32.pack(self.maximum_length))

    def describe_lines(self) -> list[str]:
        limit = "no limit" if self.maximum_length == 0 else str(self.maximum_length)
        return [f"Maximum length: {limit}", *reserved_note(self._reserved)]


@attrs.frozen
class ImplementationClassUID(_Dumpable):
    """Implementation Class UID sub-item (PS3.7 D.3.3.2)."""

    item_type: ClassVar[ItemType] = ItemType.IMPLEMENTATION_CLASS_UID

    uid: str = attrs.field(validator=uid_validator)
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The sub-item with its header."""
        return encode_item(0x52, _header(self._reserved), self.uid.encode("latin-1"))

    def describe_lines(self) -> list[str]:
        return [f"Implementation class UID: {uid_label(self.uid)}", *reserved_note(self._reserved)]


@attrs.frozen
class ImplementationVersionName(_Dumpable):
    """Implementation Version Name sub-item (PS3.7 D.3.3.2): 1 to 16 G0 characters."""

    item_type: ClassVar[ItemType] = ItemType.IMPLEMENTATION_VERSION_NAME

    name: str = attrs.field(validator=g0_text(16))
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The sub-item with its header."""
        return encode_item(0x55, _header(self._reserved), self.name.encode("latin-1"))

    def describe_lines(self) -> list[str]:
        return [f"Implementation version name: {self.name!r}", *reserved_note(self._reserved)]


@attrs.frozen
class AsynchronousOperationsWindow(_Dumpable):
    """Asynchronous Operations Window sub-item (PS3.7 D.3.3.3); 0 means unlimited."""

    item_type: ClassVar[ItemType] = ItemType.ASYNCHRONOUS_OPERATIONS_WINDOW

    invoked: int = attrs.field(validator=uint(16))
    performed: int = attrs.field(validator=uint(16))
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The sub-item with its header."""
        value = U16_PAIR.pack(self.invoked, self.performed)
        return encode_item(0x53, _header(self._reserved), value)

    def describe_lines(self) -> list[str]:
        return [
            f"Asynchronous operations window: invoked {self.invoked}, "
            f"performed {self.performed}",
            *reserved_note(self._reserved),
        ]


@attrs.frozen
class RoleSelection(_Dumpable):
    """SCP/SCU Role Selection sub-item (PS3.7 D.3.3.4)."""

    item_type: ClassVar[ItemType] = ItemType.SCP_SCU_ROLE_SELECTION

    sop_class_uid: str = attrs.field(validator=uid_validator)
    scu_role: bool = attrs.field(validator=boolean)
    scp_role: bool = attrs.field(validator=boolean)
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The sub-item with its header."""
        value = encode_u16_text(self.sop_class_uid) + bytes((self.scu_role, self.scp_role))
        return encode_item(0x54, _header(self._reserved), value)

    def describe_lines(self) -> list[str]:
        return [
            f"SCP/SCU role selection: {uid_label(self.sop_class_uid)}",
            f"  SCU role: {_yes(self.scu_role)}, SCP role: {_yes(self.scp_role)}",
            *reserved_note(self._reserved),
        ]


@attrs.frozen
class SOPClassExtendedNegotiation(_Dumpable):
    """SOP Class Extended Negotiation sub-item (PS3.7 D.3.3.5); the application
    information is service-class specific, so it stays bytes here."""

    item_type: ClassVar[ItemType] = ItemType.SOP_CLASS_EXTENDED_NEGOTIATION

    sop_class_uid: str = attrs.field(validator=uid_validator)
    service_class_application_information: bytes = attrs.field(validator=octets(0xFFFF))
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The sub-item with its header."""
        value = encode_u16_text(self.sop_class_uid) + self.service_class_application_information
        return encode_item(0x56, _header(self._reserved), value)

    def describe_lines(self) -> list[str]:
        info = hex_preview(self.service_class_application_information)
        return [
            f"SOP class extended negotiation: {uid_label(self.sop_class_uid)}",
            f"  Service class application information: {info}",
            *reserved_note(self._reserved),
        ]


@attrs.frozen
class SOPClassCommonExtendedNegotiation(_Dumpable):
    """SOP Class Common Extended Negotiation sub-item (PS3.7 D.3.3.6).

    Byte 2 of this sub-item is the sub-item version (0), not a reserved byte.
    """

    item_type: ClassVar[ItemType] = ItemType.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION

    sop_class_uid: str = attrs.field(validator=uid_validator)
    service_class_uid: str = attrs.field(validator=uid_validator)
    related_general_sop_classes: tuple[str, ...] = attrs.field(default=(), validator=uid_tuple)
    version: int = attrs.field(default=0, validator=uint(8))

    def encode(self) -> bytes:
        """The sub-item with its header."""
        related = b"".join(encode_u16_text(u) for u in self.related_general_sop_classes)
        if len(related) > 0xFFFF:
            raise UsageError("related general SOP classes exceed the 16-bit length field")
        value = (
            encode_u16_text(self.sop_class_uid)
            + encode_u16_text(self.service_class_uid)
            + U16.pack(len(related))
            + related
        )
        return encode_item(0x57, self.version, value)

    def describe_lines(self) -> list[str]:
        return [
            f"SOP class common extended negotiation (version {self.version}): "
            f"{uid_label(self.sop_class_uid)}",
            f"  Service class: {uid_label(self.service_class_uid)}",
            *(f"  Related general SOP class: {uid_label(u)}"
              for u in self.related_general_sop_classes),
        ]


USER_IDENTITY_TYPES = {
    1: "username",
    2: "username and passcode",
    3: "Kerberos service ticket",
    4: "SAML assertion",
    5: "JSON web token",
}


@attrs.frozen
class UserIdentityRQ(_Dumpable):
    """User Identity sub-item of an A-ASSOCIATE-RQ (PS3.7 D.3.3.7.1)."""

    item_type: ClassVar[ItemType] = ItemType.USER_IDENTITY_RQ

    identity_type: int = attrs.field(validator=uint(8))
    positive_response_requested: bool = attrs.field(validator=boolean)
    primary_field: bytes = attrs.field(validator=octets(0xFFFF))
    secondary_field: bytes = attrs.field(default=b"", validator=octets(0xFFFF))
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The sub-item with its header."""
        value = b"".join((
            bytes((self.identity_type, self.positive_response_requested)),
            U16.pack(len(self.primary_field)),
            self.primary_field,
            U16.pack(len(self.secondary_field)),
            self.secondary_field,
        ))
        return encode_item(0x58, _header(self._reserved), value)

    def describe_lines(self) -> list[str]:
        kind = USER_IDENTITY_TYPES.get(self.identity_type, "unknown")
        # Credentials must not reach logs: only a username is shown, never a secret.
        primary = (
            repr(self.primary_field)
            if self.identity_type in (1, 2)
            else f"{len(self.primary_field)} bytes (not shown)"
        )
        return [
            f"User identity (RQ): type {self.identity_type} ({kind}), positive response "
            f"requested: {_yes(self.positive_response_requested)}",
            f"  Primary field: {primary}",
            f"  Secondary field: {len(self.secondary_field)} bytes (not shown)",
            *reserved_note(self._reserved),
        ]


@attrs.frozen
class UserIdentityAC(_Dumpable):
    """User Identity sub-item of an A-ASSOCIATE-AC (PS3.7 D.3.3.7.2)."""

    item_type: ClassVar[ItemType] = ItemType.USER_IDENTITY_AC

    server_response: bytes = attrs.field(validator=octets(0xFFFF))
    _reserved: bytes = hidden(b"")

    def encode(self) -> bytes:
        """The sub-item with its header."""
        value = U16.pack(len(self.server_response)) + self.server_response
        return encode_item(0x59, _header(self._reserved), value)

    def describe_lines(self) -> list[str]:
        return [
            f"User identity (AC): server response {len(self.server_response)} bytes "
            "(not shown)",
            *reserved_note(self._reserved),
        ]


SubItem: TypeAlias = (
    MaximumLength
    | ImplementationClassUID
    | ImplementationVersionName
    | AsynchronousOperationsWindow
    | RoleSelection
    | SOPClassExtendedNegotiation
    | SOPClassCommonExtendedNegotiation
    | UserIdentityRQ
    | UserIdentityAC
    | UnknownItem
)
_SUB_ITEM_CLASSES = (
    MaximumLength,
    ImplementationClassUID,
    ImplementationVersionName,
    AsynchronousOperationsWindow,
    RoleSelection,
    SOPClassExtendedNegotiation,
    SOPClassCommonExtendedNegotiation,
    UserIdentityRQ,
    UserIdentityAC,
    UnknownItem,
)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@attrs.frozen
class UserInformation(_Dumpable):
    """User Information item (PS3.8 9.3.2.3): sub-items in wire order.

    The properties return the sub-items (not their values) for each negotiated feature;
    each is ``None`` or empty when the peer did not send it (the first one wins if a
    peer repeats a sub-item that PS3.7 allows once).
    """

    item_type: ClassVar[ItemType] = ItemType.USER_INFORMATION

    items: tuple[SubItem, ...] = attrs.field(default=(), validator=tuple_of(*_SUB_ITEM_CLASSES))
    _reserved: bytes = hidden(b"")

    def _first(self, cls: type[_Dumpable]) -> object:
        return next((i for i in self.items if type(i) is cls), None)

    @property
    def maximum_length(self) -> MaximumLength | None:
        """The Maximum Length sub-item (its value 0 = no limit), None if absent."""
        item = self._first(MaximumLength)
        return item if isinstance(item, MaximumLength) else None

    @property
    def implementation_class_uid(self) -> ImplementationClassUID | None:
        """The Implementation Class UID sub-item, None if absent."""
        item = self._first(ImplementationClassUID)
        return item if isinstance(item, ImplementationClassUID) else None

    @property
    def implementation_version_name(self) -> ImplementationVersionName | None:
        """The Implementation Version Name sub-item, None if absent."""
        item = self._first(ImplementationVersionName)
        return item if isinstance(item, ImplementationVersionName) else None

    @property
    def asynchronous_operations_window(self) -> AsynchronousOperationsWindow | None:
        """The asynchronous operations window sub-item, None if absent."""
        item = self._first(AsynchronousOperationsWindow)
        return item if isinstance(item, AsynchronousOperationsWindow) else None

    @property
    def role_selections(self) -> tuple[RoleSelection, ...]:
        """SCP/SCU role selection sub-items."""
        return tuple(i for i in self.items if isinstance(i, RoleSelection))

    @property
    def extended_negotiations(self) -> tuple[SOPClassExtendedNegotiation, ...]:
        """SOP class extended negotiation sub-items."""
        return tuple(i for i in self.items if isinstance(i, SOPClassExtendedNegotiation))

    @property
    def common_extended_negotiations(self) -> tuple[SOPClassCommonExtendedNegotiation, ...]:
        """SOP class common extended negotiation sub-items."""
        return tuple(i for i in self.items if isinstance(i, SOPClassCommonExtendedNegotiation))

    @property
    def user_identity(self) -> UserIdentityRQ | UserIdentityAC | None:
        """The user identity sub-item (RQ or AC form), None if absent."""
        return next(
            (i for i in self.items if isinstance(i, UserIdentityRQ | UserIdentityAC)), None
        )

    @property
    def unknown_items(self) -> tuple[UnknownItem, ...]:
        """Sub-items of types PS3.7 does not define (ignored by negotiation)."""
        return tuple(i for i in self.items if isinstance(i, UnknownItem))

    def encode(self) -> bytes:
        """The item with its header and sub-items."""
        body = b"".join(item.encode() for item in self.items)
        return encode_item(0x50, _header(self._reserved), body)

    def describe_lines(self) -> list[str]:
        lines: list[str] = []
        for item in self.items:
            lines.extend(item.describe_lines())
        lines.extend(reserved_note(self._reserved))
        return ["User information", *indent(lines or ["(no sub-items)"])]


# ----------------------------------------------------------------------- decoding

_Decoder = Callable[[bytes, int, int, int, str], SubItem]


def _exact(length: int, expected: int, where: str, pos: int) -> None:
    if length != expected:
        fail(f"item length {length}, PS3.7 fixes it at {expected}", where, pos)


def _u16_field(buf: bytes, pos: int, end: int, name: str, where: str) -> tuple[bytes, int]:
    """A 2-byte length and the value it announces; returns (value, next position)."""
    if end - pos < 2:
        fail(f"no room for the {name} length", where, pos)
    (length,) = U16.unpack_from(buf, pos)
    value_end = pos + 2 + length
    if value_end > end:
        fail(f"{name} length {length} runs past the sub-item", where, pos)
    return buf[pos + 2 : value_end], value_end


def _no_trailing(pos: int, end: int, where: str) -> None:
    if pos != end:
        fail(f"{end - pos} byte(s) after the last field of the sub-item", where, pos)


def _flag(value: int, name: str, where: str, pos: int) -> bool:
    if value > 1:
        fail(f"{name} is {value}; PS3.7 allows only 0 or 1", where, pos, INVALID)
    return bool(value)


def _maximum_length(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    _exact(end - pos - 4, 4, where, pos)
    (value,) = U32.unpack_from(buf, pos + 4)
    return unchecked(MaximumLength, maximum_length=value, _reserved=reserved_hint((r,)))


def _implementation_uid(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    value = text(buf[pos + 4 : end])
    return unchecked(ImplementationClassUID, uid=value, _reserved=reserved_hint((r,)))


def _version_name(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    value = text(buf[pos + 4 : end])
    return unchecked(ImplementationVersionName, name=value, _reserved=reserved_hint((r,)))


def _async_window(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    _exact(end - pos - 4, 4, where, pos)
    invoked, performed = U16_PAIR.unpack_from(buf, pos + 4)
    return unchecked(
        AsynchronousOperationsWindow,
        invoked=invoked,
        performed=performed,
        _reserved=reserved_hint((r,)),
    )


def _role(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    sop, at = _u16_field(buf, pos + 4, end, "SOP class UID", where)
    if end - at != 2:
        fail("the SCU-role and SCP-role bytes must end the sub-item", where, at)
    return unchecked(
        RoleSelection,
        sop_class_uid=text(sop),
        scu_role=_flag(buf[at], "SCU-role", where, at),
        scp_role=_flag(buf[at + 1], "SCP-role", where, at + 1),
        _reserved=reserved_hint((r,)),
    )


def _extended(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    sop, at = _u16_field(buf, pos + 4, end, "SOP class UID", where)
    return unchecked(
        SOPClassExtendedNegotiation,
        sop_class_uid=text(sop),
        service_class_application_information=buf[at:end],
        _reserved=reserved_hint((r,)),
    )


def _common_extended(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    sop, at = _u16_field(buf, pos + 4, end, "SOP class UID", where)
    service, at = _u16_field(buf, at, end, "service class UID", where)
    related_field, at = _u16_field(buf, at, end, "related general SOP class identification", where)
    _no_trailing(at, end, where)
    related: list[str] = []
    start = at - len(related_field)
    cursor = start
    while cursor < at:
        one, cursor = _u16_field(buf, cursor, at, "related general SOP class UID", where)
        related.append(text(one))
    return unchecked(
        SOPClassCommonExtendedNegotiation,
        sop_class_uid=text(sop),
        service_class_uid=text(service),
        related_general_sop_classes=tuple(related),
        version=r,
    )


def _identity_rq(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    if end - pos - 4 < 2:
        fail("too short for the identity type and response flag", where, pos)
    kind = buf[pos + 4]
    positive = _flag(buf[pos + 5], "positive-response-requested", where, pos + 5)
    primary, at = _u16_field(buf, pos + 6, end, "primary field", where)
    secondary, at = _u16_field(buf, at, end, "secondary field", where)
    _no_trailing(at, end, where)
    return unchecked(
        UserIdentityRQ,
        identity_type=kind,
        positive_response_requested=positive,
        primary_field=primary,
        secondary_field=secondary,
        _reserved=reserved_hint((r,)),
    )


def _identity_ac(buf: bytes, pos: int, end: int, r: int, where: str) -> SubItem:
    response, at = _u16_field(buf, pos + 4, end, "server response", where)
    _no_trailing(at, end, where)
    return unchecked(UserIdentityAC, server_response=response, _reserved=reserved_hint((r,)))


_DECODERS: dict[int, _Decoder] = {
    0x51: _maximum_length,
    0x52: _implementation_uid,
    0x53: _async_window,
    0x54: _role,
    0x55: _version_name,
    0x56: _extended,
    0x57: _common_extended,
    0x58: _identity_rq,
    0x59: _identity_ac,
}


def decode_user_information(
    buf: bytes, pos: int, end: int, reserved: int, where: str
) -> UserInformation:
    """Decode the user information item whose header starts at ``pos``."""
    where = f"{where} > {item_name(0x50)}"
    items: list[SubItem] = []
    for item_type, item_reserved, ipos, iend in iter_items(buf, pos + 4, end, where):
        decoder = _DECODERS.get(item_type)
        if decoder is None:
            items.append(decode_unknown(buf, item_type, item_reserved, ipos, iend))
        else:
            sub_where = f"{where} > {item_name(item_type)}"
            items.append(decoder(buf, ipos, iend, item_reserved, sub_where))
    return unchecked(UserInformation, items=tuple(items), _reserved=reserved_hint((reserved,)))
