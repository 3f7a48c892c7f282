"""Wire helpers shared by the PDU modules: structs, item walking, errors, validators.

Everything here is private to :mod:`dimse.pdu`. The helpers exist so that every decoder
reports faults the same way (``ProtocolError`` whose ``where`` reads
``"<PDU> > <item> > <sub-item> @ byte <offset>"``, offsets 0-based from the first byte of
the PDU) and every constructor rejects local misuse the same way (``UsageError``).
"""

from __future__ import annotations

import struct
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, TypeVar, cast

import attrs

from dimse.errors import AbortReason, ProtocolError, UsageError

__all__: list[str] = []

T = TypeVar("T")

# Precompiled big-endian layouts (PS3.8 9.3.1: PDU headers are big endian).
PDU_HEADER = struct.Struct(">BBL")  # type, reserved, length
ITEM_HEADER = struct.Struct(">BBH")  # type, reserved, length
U8 = struct.Struct(">B")
U16 = struct.Struct(">H")
U32 = struct.Struct(">L")
U16_PAIR = struct.Struct(">HH")
PDV_HEADER = struct.Struct(">LBB")  # item length, context id, message control header
PDATA_SINGLE = struct.Struct(">BBLLBB")  # P-DATA-TF header + one PDV item header

INVALID = AbortReason.INVALID_PDU_PARAMETER_VALUE
UNEXPECTED = AbortReason.UNEXPECTED_PDU_PARAMETER

ITEM_NAMES = {
    0x10: "Application Context item",
    0x20: "Presentation Context item (RQ)",
    0x21: "Presentation Context item (AC)",
    0x30: "Abstract Syntax sub-item",
    0x40: "Transfer Syntax sub-item",
    0x50: "User Information item",
    0x51: "Maximum Length sub-item",
    0x52: "Implementation Class UID sub-item",
    0x53: "Asynchronous Operations Window sub-item",
    0x54: "SCP/SCU Role Selection sub-item",
    0x55: "Implementation Version Name sub-item",
    0x56: "SOP Class Extended Negotiation sub-item",
    0x57: "SOP Class Common Extended Negotiation sub-item",
    0x58: "User Identity sub-item (RQ)",
    0x59: "User Identity sub-item (AC)",
}


def item_name(item_type: int) -> str:
    """Human name of an item type, for ``where`` and debug dumps."""
    return ITEM_NAMES.get(item_type, f"item type 0x{item_type:02X}")


# --------------------------------------------------------------------------- errors


def fail(
    message: str, where: str, offset: int, reason: AbortReason = INVALID
) -> NoReturn:
    """Raise the ProtocolError every decoder uses, with a uniform ``where``."""
    raise ProtocolError(message, reason=reason, where=f"{where} @ byte {offset}")


def iter_items(
    buf: bytes, start: int, end: int, where: str
) -> Iterator[tuple[int, int, int, int]]:
    """Walk the items in ``buf[start:end]``; yield (type, reserved, offset, value end).

    The value starts at ``offset + 4``. An item that does not fit in its parent is a
    peer fault reported here, so callers never index past ``end``.
    """
    pos = start
    while pos < end:
        if end - pos < 4:
            fail(f"{end - pos} byte(s) left, too few for an item header", where, pos)
        item_type, reserved, length = ITEM_HEADER.unpack_from(buf, pos)
        value_end = pos + 4 + length
        if value_end > end:
            fail(
                f"item length {length} runs {value_end - end} byte(s) past its parent",
                f"{where} > {item_name(item_type)}",
                pos,
            )
        yield item_type, reserved, pos, value_end
        pos = value_end


def text(raw: bytes) -> str:
    """Wire text to str; latin-1 maps every byte, so the text re-encodes exactly."""
    return raw.decode("latin-1")


def encode_item(item_type: int, reserved: int, value: bytes) -> bytes:
    """One item: 4-byte header and value; a value over 65535 bytes is local misuse."""
    if len(value) > 0xFFFF:
        raise UsageError(
            f"{item_name(item_type)} would be {len(value)} bytes; item lengths are 16-bit"
        )
    return ITEM_HEADER.pack(item_type, reserved, len(value)) + value


def encode_u16_text(value: str) -> bytes:
    """A 2-byte length followed by latin-1 text (role selection, extended negotiation)."""
    raw = value.encode("latin-1")
    return U16.pack(len(raw)) + raw


def assemble(parts: list[tuple[int, bytes]], order: tuple[int, ...] | None) -> bytes:
    """Join encoded items in the peer's wire order if recorded, else by item type.

    PS3.8 9.3.1 wants items in increasing item-type order, which is the canonical
    layout; a decoded PDU whose items arrived in another order remembers that order
    (see :func:`wire_order`) so it re-encodes byte for byte.
    """
    if order is None:
        parts.sort(key=_first)
        return b"".join(p for _, p in parts)
    queues: defaultdict[int, deque[bytes]] = defaultdict(deque)
    for item_type, encoded in parts:
        queues[item_type].append(encoded)
    return b"".join(queues[t].popleft() for t in order)


def _first(part: tuple[int, bytes]) -> int:
    return part[0]


def wire_order(types: list[int], canonical: list[int] | None = None) -> tuple[int, ...] | None:
    """The order hint to keep: None when the wire order is what encoding would produce.

    ``canonical`` is the item types the canonical encoder emits for the decoded object
    (default: the wire's own types, sorted); it differs when an optional item was absent.
    """
    return None if types == (sorted(types) if canonical is None else canonical) else tuple(types)


def reserved_hint(values: Iterable[int]) -> bytes:
    """Reserved bytes as received, or b"" when all zero (the common, canonical case)."""
    raw = bytes(values)
    return raw if any(raw) else b""


def hint_or_zeros(hint: bytes, size: int) -> bytes:
    """The reserved bytes to send: the received ones if they still fit, else zeros."""
    return hint if len(hint) == size else bytes(size)


# ------------------------------------------------------------------ decoded objects

_FIELD_CACHE: dict[type, tuple[tuple[str, Any], ...]] = {}
_NOTHING: Any = attrs.NOTHING


def unchecked(cls: type[T], **values: Any) -> T:
    """Build an attrs instance from decoded values without running its validators.

    Constructors reject local misuse; decoding must stay lenient where PS3.8 says a
    field is "not tested" or where the negotiation layer, not the codec, judges a value
    (an unknown AE title, a malformed UID). Decoders check the wire structure themselves.
    """
    spec = _FIELD_CACHE.get(cls)
    if spec is None:
        spec = tuple((a.name, a.default) for a in attrs.fields(cast(Any, cls)))
        _FIELD_CACHE[cls] = spec
    obj = object.__new__(cls)
    for name, default in spec:
        value = values.pop(name, default)
        if value is _NOTHING:
            raise TypeError(f"{cls.__name__}: no value for {name}")
        object.__setattr__(obj, name, value)
    if values:
        raise TypeError(f"{cls.__name__}: unknown fields {sorted(values)}")
    return obj


def hidden(default: Any) -> Any:
    """An attrs field for wire details (reserved bytes, item order) kept for re-encoding.

    Not in ``__init__`` (so :func:`attrs.evolve` and constructors start canonical), not
    in ``==`` or ``repr`` (two PDUs that mean the same thing compare equal).
    """
    return attrs.field(default=default, init=False, eq=False, repr=False)


# ---------------------------------------------------------------------- validators

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

_UID_CHARS = frozenset("0123456789.")
_AE_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"\\"}


def _misuse(attribute: attrs.Attribute[Any], message: str) -> NoReturn:
    raise UsageError(f"{attribute.name}: {message}")


def uint(bits: int) -> Validator:
    """An unsigned integer that fits the wire field (8, 16 or 32 bits)."""
    limit = 1 << bits

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is bool or not isinstance(value, int) or not 0 <= value < limit:
            _misuse(attribute, f"must be an int in 0..{limit - 1}, got {value!r}")

    return check


def one_of(allowed: Iterable[int]) -> Validator:
    """A code from a closed table (result, source...)."""
    options = frozenset(allowed)

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is bool or value not in options:
            _misuse(attribute, f"must be one of {sorted(options)}, got {value!r}")

    return check


def boolean(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A flag encoded as 0/1 on the wire."""
    if not isinstance(value, bool):
        _misuse(attribute, f"must be a bool, got {value!r}")


def context_id(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """PS3.8 9.3.2.2: presentation context IDs are odd integers 1..255."""
    if type(value) is bool or not isinstance(value, int) or not (1 <= value <= 255 and value & 1):
        _misuse(attribute, f"must be an odd int in 1..255, got {value!r}")


def check_uid_text(name: str, value: Any, *, allow_empty: bool = False) -> None:
    """A UID as PS3.5 9.1 allows: digits and dots, at most 64 characters.

    One trailing NUL (the even-length pad some peers send) is allowed, so a UID echoed
    from a received PDU can be used as is.
    """
    if not isinstance(value, str):
        raise UsageError(f"{name}: must be a str, got {value!r}")
    core = value[:-1] if value.endswith("\0") else value
    if not core and not allow_empty:
        raise UsageError(f"{name}: must not be empty")
    if len(core) > 64:
        raise UsageError(f"{name}: UIDs are at most 64 characters, got {len(core)}")
    if not _UID_CHARS.issuperset(core):
        raise UsageError(f"{name}: a UID holds only digits and dots, got {value!r}")


def uid(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator wrapper for :func:`check_uid_text`."""
    check_uid_text(attribute.name, value)


def uid_tuple(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A tuple of UIDs."""
    if not isinstance(value, tuple):
        _misuse(attribute, f"must be a tuple, got {type(value).__name__}")
    for i, each in enumerate(value):
        check_uid_text(f"{attribute.name}[{i}]", each)


def g0_text(max_len: int, *, allow_empty: bool = False) -> Validator:
    """ISO 646 G0 text without backslash (AE titles, implementation version name)."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str):
            _misuse(attribute, f"must be a str, got {value!r}")
        if not value and not allow_empty:
            _misuse(attribute, "must not be empty")
        if len(value) > max_len:
            _misuse(attribute, f"at most {max_len} characters, got {len(value)}")
        if not _AE_CHARS.issuperset(value):
            _misuse(attribute, f"only printable ASCII without backslash, got {value!r}")

    return check


def latin1_text(max_len: int) -> Validator:
    """Any text the wire can carry (the AC's echoed, untested AE title fields)."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str):
            _misuse(attribute, f"must be a str, got {value!r}")
        if len(value) > max_len or any(ord(c) > 0xFF for c in value):
            _misuse(attribute, f"at most {max_len} latin-1 characters, got {value!r}")

    return check


def octets(max_len: int) -> Validator:
    """A bytes value whose length fits its length field."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, bytes):
            _misuse(attribute, f"must be bytes, got {type(value).__name__}")
        if len(value) > max_len:
            _misuse(attribute, f"at most {max_len} bytes, got {len(value)}")

    return check


def tuple_of(*types: type) -> Validator:
    """A tuple whose members are instances of ``types``."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, tuple):
            _misuse(attribute, f"must be a tuple, got {type(value).__name__}")
        for each in value:
            if not isinstance(each, types):
                _misuse(attribute, f"unexpected member {each!r}")

    return check


def strip_ae(value: str) -> str:
    """Converter: AE titles compare without their (non-significant) trailing spaces.

    A non-str is passed through for the validator to reject as UsageError.
    """
    return value.rstrip(" ") if isinstance(value, str) else value


def encode_ae(value: str) -> bytes:
    """An AE title field: 16 bytes, space padded (PS3.8 9.3.2)."""
    return value.encode("latin-1").ljust(16, b" ")


def decode_ae(raw: bytes) -> str:
    """Trailing spaces go; anything else (leading spaces, NULs) is kept for re-encoding."""
    return raw.decode("latin-1").rstrip(" ")


# -------------------------------------------------------------------- debug dumps


def uid_label(value: str) -> str:
    """A UID with its registered name when pydicom knows it, for debug dumps."""
    core = value.rstrip("\0")
    suffix = " [NUL padded]" if core != value else ""
    if not core:
        return "(empty)" + suffix
    try:
        from pydicom.uid import UID

        name = str(UID(core).name)
    except Exception:  # a debug dump must never fail
        name = core
    named = f"{core} ({name})" if name and name != core else core
    return named + suffix


def hex_preview(data: bytes | memoryview, limit: int = 16) -> str:
    """The first bytes of a blob as hex, for debug dumps of opaque fields."""
    head = bytes(data[:limit]).hex(" ")
    more = f" ... ({len(data)} bytes)" if len(data) > limit else ""
    return head + more if head else "(empty)"


def reserved_note(hint: bytes) -> list[str]:
    """A debug line for reserved bytes a peer sent non-zero (PS3.8: not tested)."""
    return [f"Reserved bytes (not tested): {hint.hex(' ')}"] if hint else []


def indent(lines: list[str], by: str = "  ") -> list[str]:
    """Indent nested dump lines."""
    return [by + line for line in lines]
