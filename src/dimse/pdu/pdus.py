"""The seven PDUs of PS3.8 9.3 and :func:`decode`.

P-DATA-TF is the hot path (every DIMSE byte crosses it), so its decoder slices PDV data
as ``memoryview``\\ s of the PDU buffer (no copy) with one precompiled ``struct`` call per
PDV, and its encoder offers two copy-avoiding forms:

* :meth:`PDataTF.encode_parts` returns the header and data pieces for
  ``writelines``/``sendmsg`` (no copy of the data at all);
* :func:`encode_pdata_header` gives the 12 bytes in front of a single PDV, so a
  fragmenter can send ``header`` then a ``memoryview`` slice of the dataset.

``PDataTF.encode()`` itself joins once (one copy of the data).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from enum import IntEnum
from typing import Any, ClassVar, TypeAlias

import attrs

from dimse.errors import AbortReason, AbortSource, ProtocolError, UsageError
from dimse.pdu._wire import (
    PDATA_SINGLE,
    PDU_HEADER,
    PDV_HEADER,
    U16,
    UNEXPECTED,
    assemble,
    context_id,
    decode_ae,
    encode_ae,
    encode_item,
    fail,
    g0_text,
    hex_preview,
    hidden,
    hint_or_zeros,
    indent,
    item_name,
    iter_items,
    latin1_text,
    one_of,
    reserved_hint,
    reserved_note,
    strip_ae,
    text,
    tuple_of,
    uid,
    uid_label,
    uint,
    unchecked,
    wire_order,
)
from dimse.pdu.items import (
    APPLICATION_CONTEXT_NAME,
    PresentationContextAC,
    PresentationContextRQ,
    UnknownItem,
    _Dumpable,
    decode_pc_ac,
    decode_pc_rq,
    decode_unknown,
)
from dimse.pdu.user_information import UserInformation, decode_user_information

__all__ = [
    "PDU",
    "PDV",
    "AAbort",
    "AAssociateAC",
    "AAssociateRJ",
    "AAssociateRQ",
    "AReleaseRP",
    "AReleaseRQ",
    "PDUType",
    "PDataTF",
    "check_header",
    "decode",
    "encode_pdata_header",
]


class PDUType(IntEnum):
    """PDU types of PS3.8 Table 9-1."""

    A_ASSOCIATE_RQ = 0x01
    A_ASSOCIATE_AC = 0x02
    A_ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    A_RELEASE_RQ = 0x05
    A_RELEASE_RP = 0x06
    A_ABORT = 0x07


PDU_NAMES = {
    1: "A-ASSOCIATE-RQ",
    2: "A-ASSOCIATE-AC",
    3: "A-ASSOCIATE-RJ",
    4: "P-DATA-TF",
    5: "A-RELEASE-RQ",
    6: "A-RELEASE-RP",
    7: "A-ABORT",
}

_FIXED_LENGTH = {3: 4, 5: 4, 6: 4, 7: 4}  # PDU-length of the fixed-size PDUs
_MIN_LENGTH = {1: 68, 2: 68, 4: 6}  # fixed fields / one PDV item header


def check_header(pdu_type: int, length: int) -> None:
    """Judge a PDU from its 6-byte header alone (the framer calls this before buffering).

    Raises ProtocolError for an unknown type (reason UNRECOGNIZED_PDU) or a length no PDU
    of that type can have.
    """
    name = PDU_NAMES.get(pdu_type)
    if name is None:
        raise ProtocolError(
            f"unknown PDU type 0x{pdu_type:02X}",
            reason=AbortReason.UNRECOGNIZED_PDU,
            where="PDU header @ byte 0",
        )
    fixed = _FIXED_LENGTH.get(pdu_type)
    if fixed is not None and length != fixed:
        fail(f"PDU-length {length}, PS3.8 fixes it at {fixed}", name, 2)
    minimum = _MIN_LENGTH.get(pdu_type, 0)
    if length < minimum:
        fail(f"PDU-length {length} is below the minimum {minimum}", name, 2)


class _PDUBase(_Dumpable):
    """What every PDU offers: ``pdu_type``, ``encode()``, ``describe()``."""

    __slots__ = ()
    pdu_type: ClassVar[PDUType]

    def encode(self) -> bytes:
        raise NotImplementedError


# ------------------------------------------------------------------ A-ASSOCIATE


def _contexts(cls: type) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        tuple_of(cls)(instance, attribute, value)
        if not value:
            raise UsageError(f"{attribute.name}: at least one presentation context")
        ids = [pc.context_id for pc in value]
        if len(set(ids)) != len(ids):
            raise UsageError(f"{attribute.name}: context IDs repeat: {ids}")

    return check


def _user_info(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, UserInformation):
        raise UsageError(f"{attribute.name}: must be a UserInformation, got {value!r}")


# reserved hint layout: PDU header byte, bytes 9-10, bytes 43-74, app context header
_ASSOC_RESERVED = 36


def _encode_associate(pdu: AAssociateRQ | AAssociateAC) -> bytes:
    r = hint_or_zeros(pdu._reserved, _ASSOC_RESERVED)
    parts = [(0x10, encode_item(0x10, r[35], pdu.application_context.encode("latin-1")))]
    parts.extend((pc.item_type, pc.encode()) for pc in pdu.presentation_contexts)
    parts.append((0x50, pdu.user_information.encode()))
    parts.extend((u.item_type, u.encode()) for u in pdu.unknown_items)
    body = b"".join((
        U16.pack(pdu.protocol_version),
        r[1:3],
        encode_ae(pdu.called_ae_title),
        encode_ae(pdu.calling_ae_title),
        r[3:35],
        assemble(parts, pdu._order),
    ))
    return PDU_HEADER.pack(pdu.pdu_type, r[0], len(body)) + body


def _describe_associate(pdu: AAssociateRQ | AAssociateAC) -> list[str]:
    lines = [
        f"Protocol version: 0x{pdu.protocol_version:04X}",
        f"Called AE title: {pdu.called_ae_title!r}",
        f"Calling AE title: {pdu.calling_ae_title!r}",
        f"Application context: {uid_label(pdu.application_context)}",
    ]
    for pc in pdu.presentation_contexts:
        lines.extend(pc.describe_lines())
    lines.extend(pdu.user_information.describe_lines())
    for unknown in pdu.unknown_items:
        lines.extend(unknown.describe_lines())
    if pdu._order is not None:
        order = ", ".join(f"0x{t:02X}" for t in pdu._order)
        lines.append(f"Items arrived out of item-type order: {order}")
    lines.extend(reserved_note(pdu._reserved))
    return [PDU_NAMES[pdu.pdu_type], *indent(lines)]


@attrs.frozen
class AAssociateRQ(_PDUBase):
    """A-ASSOCIATE-RQ (PS3.8 9.3.2). AE titles lose their trailing spaces."""

    pdu_type: ClassVar[PDUType] = PDUType.A_ASSOCIATE_RQ

    called_ae_title: str = attrs.field(converter=strip_ae, validator=g0_text(16))
    calling_ae_title: str = attrs.field(converter=strip_ae, validator=g0_text(16))
    presentation_contexts: tuple[PresentationContextRQ, ...] = attrs.field(
        validator=_contexts(PresentationContextRQ)
    )
    user_information: UserInformation = attrs.field(validator=_user_info)
    application_context: str = attrs.field(default=APPLICATION_CONTEXT_NAME, validator=uid)
    protocol_version: int = attrs.field(default=1, validator=uint(16))
    unknown_items: tuple[UnknownItem, ...] = attrs.field(
        default=(), validator=tuple_of(UnknownItem)
    )
    _reserved: bytes = hidden(b"")
    _order: tuple[int, ...] | None = hidden(None)

    def encode(self) -> bytes:
        """The whole PDU."""
        return _encode_associate(self)

    def describe_lines(self) -> list[str]:
        return _describe_associate(self)


@attrs.frozen
class AAssociateAC(_PDUBase):
    """A-ASSOCIATE-AC (PS3.8 9.3.3).

    The AE title fields are reserved in an AC (sent as received in the RQ, not tested),
    so any text of up to 16 characters is accepted, including "".
    """

    pdu_type: ClassVar[PDUType] = PDUType.A_ASSOCIATE_AC

    called_ae_title: str = attrs.field(converter=strip_ae, validator=latin1_text(16))
    calling_ae_title: str = attrs.field(converter=strip_ae, validator=latin1_text(16))
    presentation_contexts: tuple[PresentationContextAC, ...] = attrs.field(
        validator=_contexts(PresentationContextAC)
    )
    user_information: UserInformation = attrs.field(validator=_user_info)
    application_context: str = attrs.field(default=APPLICATION_CONTEXT_NAME, validator=uid)
    protocol_version: int = attrs.field(default=1, validator=uint(16))
    unknown_items: tuple[UnknownItem, ...] = attrs.field(
        default=(), validator=tuple_of(UnknownItem)
    )
    _reserved: bytes = hidden(b"")
    _order: tuple[int, ...] | None = hidden(None)

    def encode(self) -> bytes:
        """The whole PDU."""
        return _encode_associate(self)

    def describe_lines(self) -> list[str]:
        return _describe_associate(self)


def _decode_associate(buf: bytes) -> AAssociateRQ | AAssociateAC:
    is_rq = buf[0] == 1
    where = PDU_NAMES[buf[0]]
    pc_type = 0x20 if is_rq else 0x21
    app: str | None = None
    app_reserved = 0
    contexts: list[Any] = []
    user: UserInformation | None = None
    unknown: list[UnknownItem] = []
    types: list[int] = []
    for item_type, reserved, pos, end in iter_items(buf, 74, len(buf), where):
        types.append(item_type)
        if item_type == 0x10:
            if app is not None:
                fail("a second Application Context item", where, pos, UNEXPECTED)
            app = text(buf[pos + 4 : end])
            app_reserved = reserved
        elif item_type == pc_type:
            decoder = decode_pc_rq if is_rq else decode_pc_ac
            contexts.append(decoder(buf, pos, end, reserved, where))
        elif item_type == 0x50:
            if user is not None:
                fail("a second User Information item", where, pos, UNEXPECTED)
            user = decode_user_information(buf, pos, end, reserved, where)
        else:
            unknown.append(decode_unknown(buf, item_type, reserved, pos, end))
    if app is None:
        fail(f"no {item_name(0x10)}", where, 74)
    if not contexts:
        fail(f"no {item_name(pc_type)}", where, 74)
    if user is None:
        fail(f"no {item_name(0x50)}", where, 74)
    fields: dict[str, Any] = {
        "called_ae_title": decode_ae(buf[10:26]),
        "calling_ae_title": decode_ae(buf[26:42]),
        "presentation_contexts": tuple(contexts),
        "user_information": user,
        "application_context": app,
        "protocol_version": U16.unpack_from(buf, 6)[0],
        "unknown_items": tuple(unknown),
        "_reserved": reserved_hint((buf[1], *buf[8:10], *buf[42:74], app_reserved)),
        "_order": wire_order(types),
    }
    if is_rq:
        return unchecked(AAssociateRQ, **fields)
    return unchecked(AAssociateAC, **fields)


REJECT_RESULTS = {1: "rejected-permanent", 2: "rejected-transient"}
REJECT_SOURCES = {
    1: "DICOM UL service-user",
    2: "DICOM UL service-provider (ACSE related function)",
    3: "DICOM UL service-provider (Presentation related function)",
}
REJECT_REASONS = {
    (1, 1): "no-reason-given",
    (1, 2): "application-context-name-not-supported",
    (1, 3): "calling-AE-title-not-recognized",
    (1, 7): "called-AE-title-not-recognized",
    (2, 1): "no-reason-given",
    (2, 2): "protocol-version-not-supported",
    (3, 1): "temporary-congestion",
    (3, 2): "local-limit-exceeded",
}


@attrs.frozen
class AAssociateRJ(_PDUBase):
    """A-ASSOCIATE-RJ (PS3.8 9.3.4): result 1/2, source 1..3, reason per Table 9-21."""

    pdu_type: ClassVar[PDUType] = PDUType.A_ASSOCIATE_RJ

    result: int = attrs.field(validator=one_of(REJECT_RESULTS))
    source: int = attrs.field(validator=one_of(REJECT_SOURCES))
    reason: int = attrs.field(validator=uint(8))
    _reserved: bytes = hidden(b"")  # PDU header byte, byte 7

    def encode(self) -> bytes:
        """The whole PDU."""
        r = hint_or_zeros(self._reserved, 2)
        return bytes((3, r[0], 0, 0, 0, 4, r[1], self.result, self.source, self.reason))

    def describe_lines(self) -> list[str]:
        result = REJECT_RESULTS.get(self.result, "unknown")
        source = REJECT_SOURCES.get(self.source, "unknown")
        reason = REJECT_REASONS.get((self.source, self.reason), "reserved")
        return [
            "A-ASSOCIATE-RJ",
            f"  Result: {self.result} ({result})",
            f"  Source: {self.source} ({source})",
            f"  Reason: {self.reason} ({reason})",
            *indent(reserved_note(self._reserved)),
        ]


# --------------------------------------------------------------------- P-DATA-TF


def _as_data(value: bytes | memoryview) -> bytes | memoryview:
    """PDV data as given, except a memoryview is flattened to bytes ('B') so len() counts
    bytes; anything else is left for the validator to reject."""
    if isinstance(value, memoryview) and (value.format != "B" or value.ndim != 1):
        try:
            return value.cast("B")
        except TypeError as exc:
            raise UsageError(f"data: need a contiguous buffer ({exc})") from None
    return value


def _check_data(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise UsageError(f"{attribute.name}: must be bytes or memoryview, got {value!r}")


@attrs.frozen
class PDV:
    """One presentation data value item (PS3.8 9.3.5.1, message control header E.2).

    ``control`` bit 0 set: command information (else data set); bit 1 set: last fragment.
    """

    context_id: int = attrs.field(validator=context_id)
    control: int = attrs.field(validator=uint(8))
    data: bytes | memoryview = attrs.field(converter=_as_data, validator=_check_data)

    @property
    def is_command(self) -> bool:
        """Message control header bit 0: this fragment is command information."""
        return bool(self.control & 1)

    @property
    def is_last(self) -> bool:
        """Message control header bit 1: the last fragment of its command/data set."""
        return bool(self.control & 2)

    def describe(self) -> str:
        """One line: context, kind, last flag, length and the first bytes."""
        kind = "command" if self.is_command else "data set"
        last = "last fragment" if self.is_last else "more fragments"
        extra = f", control 0x{self.control:02X}" if self.control > 3 else ""
        return (
            f"PDV context {self.context_id}: {kind}, {last}{extra}, {len(self.data)} bytes: "
            f"{hex_preview(self.data)}"
        )

    def __str__(self) -> str:
        return self.describe()


_PDV_NEW = object.__new__
_SET = object.__setattr__


def _decoded_pdv(cid: int, control: int, data: memoryview) -> PDV:
    # The hot path: skip the attrs __init__ (validators, converter); decode checked it.
    pdv: PDV = _PDV_NEW(PDV)
    _SET(pdv, "context_id", cid)
    _SET(pdv, "control", control)
    _SET(pdv, "data", data)
    return pdv


def _pdv_tuple(value: Iterable[PDV]) -> tuple[PDV, ...]:
    """Converter: any iterable of PDVs (a fragmenter's list) becomes the stored tuple."""
    try:
        return tuple(value)
    except TypeError:
        raise UsageError(f"pdvs: need an iterable of PDV, got {value!r}") from None


def _check_pdvs(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    tuple_of(PDV)(instance, attribute, value)
    if not value:
        raise UsageError(f"{attribute.name}: a P-DATA-TF carries at least one PDV")


@attrs.frozen
class PDataTF(_PDUBase):
    """P-DATA-TF (PS3.8 9.3.5): one or more PDVs."""

    pdu_type: ClassVar[PDUType] = PDUType.P_DATA_TF

    pdvs: tuple[PDV, ...] = attrs.field(converter=_pdv_tuple, validator=_check_pdvs)
    _reserved: bytes = hidden(b"")  # PDU header byte

    def encode_parts(self) -> list[bytes | memoryview]:
        """Header and data pieces in wire order, for ``writelines``: data is not copied."""
        parts: list[bytes | memoryview] = [b""]
        total = 0
        for pdv in self.pdvs:
            size = len(pdv.data)
            parts.append(PDV_HEADER.pack(size + 2, pdv.context_id, pdv.control))
            parts.append(pdv.data)
            total += size + 6
        if total > 0xFFFFFFFF:
            raise UsageError(f"P-DATA-TF of {total} bytes exceeds the 32-bit PDU-length")
        parts[0] = PDU_HEADER.pack(4, self._reserved[0] if self._reserved else 0, total)
        return parts

    def encode(self) -> bytes:
        """The whole PDU (one join: the data is copied once)."""
        return b"".join(self.encode_parts())

    def describe_lines(self) -> list[str]:
        size = sum(len(p.data) for p in self.pdvs)
        return [
            f"P-DATA-TF: {len(self.pdvs)} PDV(s), {size} data bytes",
            *indent([p.describe() for p in self.pdvs]),
            *indent(reserved_note(self._reserved)),
        ]


def encode_pdata_header(context_id: int, control: int, data_length: int) -> bytes:
    """The 12 bytes that precede ``data_length`` bytes of data in a one-PDV P-DATA-TF.

    Send ``header`` then the data (e.g. a ``memoryview`` slice of an encoded dataset)
    to avoid building the PDU in memory: the fragmenter's fast path.
    """
    if type(context_id) is not int or not (1 <= context_id <= 255 and context_id & 1):
        raise UsageError(f"context_id: must be an odd int in 1..255, got {context_id!r}")
    if type(control) is not int or not 0 <= control <= 255:
        raise UsageError(f"control: must be an int in 0..255, got {control!r}")
    if type(data_length) is not int or not 0 <= data_length <= 0xFFFFFFFF - 6:
        raise UsageError(f"data_length: out of range, got {data_length!r}")
    return PDATA_SINGLE.pack(4, 0, data_length + 6, data_length + 2, context_id, control)


def _decode_pdata(mv: memoryview, end: int, reserved: int) -> PDataTF:
    unpack = PDV_HEADER.unpack_from
    pdvs: list[PDV] = []
    pos = 6
    while pos < end:
        if end - pos < 6:
            fail(
                f"{end - pos} byte(s) left, too few for a PDV item header",
                f"P-DATA-TF > PDV item {len(pdvs) + 1}",
                pos,
            )
        length, cid, control = unpack(mv, pos)
        data_end = pos + 4 + length
        if length < 2 or data_end > end or not cid & 1:
            _pdv_fault(length, cid, data_end, end, len(pdvs) + 1, pos)
        pdvs.append(_decoded_pdv(cid, control, mv[pos + 6 : data_end]))
        pos = data_end
    if not pdvs:
        fail("no PDV item (PS3.8 9.3.5 requires one or more)", "P-DATA-TF", 6)
    return unchecked(PDataTF, pdvs=tuple(pdvs), _reserved=reserved_hint((reserved,)))


def _pdv_fault(length: int, cid: int, data_end: int, end: int, index: int, pos: int) -> None:
    where = f"P-DATA-TF > PDV item {index}"
    if length < 2:
        fail(f"item length {length}: needs at least the context ID and control bytes",
             where, pos)
    if data_end > end:
        fail(f"item length {length} runs {data_end - end} byte(s) past the PDU", where, pos)
    fail(f"presentation context ID {cid} is not an odd number 1..255", where, pos + 4)


# ------------------------------------------------------------- release and abort


@attrs.frozen
class AReleaseRQ(_PDUBase):
    """A-RELEASE-RQ (PS3.8 9.3.6)."""

    pdu_type: ClassVar[PDUType] = PDUType.A_RELEASE_RQ
    _reserved: bytes = hidden(b"")  # PDU header byte, bytes 7-10

    def encode(self) -> bytes:
        """The whole PDU."""
        r = hint_or_zeros(self._reserved, 5)
        return PDU_HEADER.pack(self.pdu_type, r[0], 4) + r[1:]

    def describe_lines(self) -> list[str]:
        return [PDU_NAMES[self.pdu_type], *indent(reserved_note(self._reserved))]


@attrs.frozen
class AReleaseRP(_PDUBase):
    """A-RELEASE-RP (PS3.8 9.3.7)."""

    pdu_type: ClassVar[PDUType] = PDUType.A_RELEASE_RP
    _reserved: bytes = hidden(b"")  # PDU header byte, bytes 7-10

    def encode(self) -> bytes:
        """The whole PDU."""
        r = hint_or_zeros(self._reserved, 5)
        return PDU_HEADER.pack(self.pdu_type, r[0], 4) + r[1:]

    def describe_lines(self) -> list[str]:
        return [PDU_NAMES[self.pdu_type], *indent(reserved_note(self._reserved))]


@attrs.frozen
class AAbort(_PDUBase):
    """A-ABORT (PS3.8 9.3.8): source 0 (service user) or 2 (service provider)."""

    pdu_type: ClassVar[PDUType] = PDUType.A_ABORT

    source: int = attrs.field(validator=one_of((0, 1, 2)))
    reason: int = attrs.field(validator=uint(8))
    _reserved: bytes = hidden(b"")  # PDU header byte, bytes 7-8

    def encode(self) -> bytes:
        """The whole PDU."""
        r = hint_or_zeros(self._reserved, 3)
        return bytes((7, r[0], 0, 0, 0, 4, r[1], r[2], self.source, self.reason))

    def describe_lines(self) -> list[str]:
        try:
            source = AbortSource(self.source).name
        except ValueError:
            source = "unknown"
        reason = "not significant"
        if self.source == AbortSource.SERVICE_PROVIDER:
            try:
                reason = AbortReason(self.reason).name
            except ValueError:
                reason = "unknown"
        return [
            "A-ABORT",
            f"  Source: {self.source} ({source})",
            f"  Reason: {self.reason} ({reason})",
            *indent(reserved_note(self._reserved)),
        ]


PDU: TypeAlias = (
    AAssociateRQ | AAssociateAC | AAssociateRJ | PDataTF | AReleaseRQ | AReleaseRP | AAbort
)
"""Any of the seven PDUs (a union: ``match`` on it is checked for exhaustiveness)."""


def _decode_fixed(buf: bytes) -> PDU:
    kind = buf[0]
    if kind == 3:
        return unchecked(
            AAssociateRJ,
            result=buf[7],
            source=buf[8],
            reason=buf[9],
            _reserved=reserved_hint((buf[1], buf[6])),
        )
    if kind == 7:
        return unchecked(
            AAbort, source=buf[8], reason=buf[9], _reserved=reserved_hint((buf[1], *buf[6:8]))
        )
    hint = reserved_hint((buf[1], *buf[6:10]))
    if kind == 5:
        return unchecked(AReleaseRQ, _reserved=hint)
    return unchecked(AReleaseRP, _reserved=hint)


_INTERNAL_FAULTS = (
    IndexError,
    KeyError,
    TypeError,
    ValueError,
    OverflowError,
    UnicodeError,
    struct.error,
)


def decode(data: bytes | bytearray | memoryview) -> PDU:
    """Decode exactly one whole PDU.

    P-DATA-TF PDV data are ``memoryview`` slices of ``data``: pass a buffer nobody will
    modify afterwards (``bytes``, or a ``bytearray`` handed over for good). Every fault
    in the bytes raises ProtocolError; nothing else escapes.
    """
    try:
        mv = memoryview(data)
    except TypeError:
        raise UsageError(f"decode needs a bytes-like object, got {type(data).__name__}") from None
    try:
        if mv.ndim != 1 or mv.format != "B":
            mv = mv.cast("B")
        size = mv.nbytes
        if size < 6:
            fail(f"{size} byte(s), too few for a PDU header", "PDU header", 0)
        pdu_type, reserved, length = PDU_HEADER.unpack_from(mv, 0)
        check_header(pdu_type, length)
        if length != size - 6:
            fail(
                f"PDU-length {length} but {size - 6} byte(s) follow the header",
                PDU_NAMES[pdu_type],
                2,
            )
        if pdu_type == 4:
            return _decode_pdata(mv, size, reserved)
        buf = mv.tobytes()
        if pdu_type <= 2:
            return _decode_associate(buf)
        return _decode_fixed(buf)
    except _INTERNAL_FAULTS as exc:  # a decoder bug must still end as a clean abort
        raise ProtocolError(
            f"internal decoder error ({type(exc).__name__}: {exc})",
            reason=AbortReason.NOT_SPECIFIED,
            where="PDU",
        ) from exc
