"""dimse.pdu encoding: hand-built bytes from PS3.8 9.3 / PS3.7 D.3.3, round trips, dumps."""

from __future__ import annotations

import attrs
import pytest
from _pdu_strategies import (
    associate_acs,
    associate_rjs,
    associate_rqs,
    async_windows,
    common_extended_negotiations,
    extended_negotiations,
    identity_acs,
    identity_rqs,
    implementation_uids,
    maximum_lengths,
    pc_acs,
    pc_rqs,
    pdata_tfs,
    pdus,
    role_selections,
    version_names,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from dimse.pdu import (
    APPLICATION_CONTEXT_NAME,
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    ItemType,
    MaximumLength,
    PDataTF,
    PDUType,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
    decode,
    encode_pdata_header,
)

APP = b"1.2.840.10008.3.1.1.1"  # 21 bytes
VERIFICATION = "1.2.840.10008.1.1"  # 17 bytes
IMPLICIT = "1.2.840.10008.1.2"  # 17 bytes
EXPLICIT = "1.2.840.10008.1.2.1"  # 19 bytes
CT = "1.2.840.10008.5.1.4.1.1.2"  # 25 bytes
STORAGE = "1.2.840.10008.4.2"  # 17 bytes
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"  # 27 bytes


def b(text: str) -> bytes:
    return text.encode("ascii")


# ------------------------------------------------------------- items, by hand

ITEMS = [
    # PS3.8 D.1: type 51H, reserved, length 0004H, maximum-length-received (32 bits)
    (MaximumLength(16384), b"\x51\x00\x00\x04" + b"\x00\x00\x40\x00"),
    (MaximumLength(0), b"\x51\x00\x00\x04" + b"\x00\x00\x00\x00"),
    (MaximumLength(0xFFFFFFFF), b"\x51\x00\x00\x04" + b"\xff\xff\xff\xff"),
    # PS3.7 D.3.3.2: 52H, reserved, length, implementation-class-uid
    (ImplementationClassUID("1.2.3.4"), b"\x52\x00\x00\x07" + b"1.2.3.4"),
    # a UID with the NUL pad some peers send: kept as on the wire
    (ImplementationClassUID("1.2.3\0"), b"\x52\x00\x00\x06" + b"1.2.3\x00"),
    # PS3.7 D.3.3.2: 55H, reserved, length, implementation-version-name
    (ImplementationVersionName("DIMSE_01"), b"\x55\x00\x00\x08" + b"DIMSE_01"),
    # PS3.7 D.3.3.3: 53H, reserved, length 0004H, invoked (16), performed (16)
    (AsynchronousOperationsWindow(2, 3), b"\x53\x00\x00\x04" + b"\x00\x02\x00\x03"),
    # PS3.7 D.3.3.4: 54H, reserved, length, UID-length (16), UID, SCU-role, SCP-role
    (
        RoleSelection(CT, scu_role=True, scp_role=False),
        b"\x54\x00\x00\x1d" + b"\x00\x19" + b(CT) + b"\x01\x00",
    ),
    (
        RoleSelection(CT, scu_role=False, scp_role=True),
        b"\x54\x00\x00\x1d" + b"\x00\x19" + b(CT) + b"\x00\x01",
    ),
    # PS3.7 D.3.3.5: 56H, reserved, length, UID-length, UID, application information
    (
        SOPClassExtendedNegotiation(CT, b"\x01\x00\x01\x00"),
        b"\x56\x00\x00\x1f" + b"\x00\x19" + b(CT) + b"\x01\x00\x01\x00",
    ),
    # PS3.7 D.3.3.6: 57H, sub-item version, length, SOP UID-length, UID, service UID-length,
    # UID, related-general-SOP-class-identification length, (UID-length, UID)*
    (
        SOPClassCommonExtendedNegotiation(CT, STORAGE, (ENHANCED_CT,)),
        b"\x57\x00\x00\x4d"
        + b"\x00\x19" + b(CT)
        + b"\x00\x11" + b(STORAGE)
        + b"\x00\x1d" + b"\x00\x1b" + b(ENHANCED_CT),
    ),
    (
        SOPClassCommonExtendedNegotiation(CT, STORAGE, version=0),
        b"\x57\x00\x00\x30" + b"\x00\x19" + b(CT) + b"\x00\x11" + b(STORAGE) + b"\x00\x00",
    ),
    # PS3.7 D.3.3.7.1: 58H, reserved, length, type, positive-response-requested,
    # primary-field-length (16), primary, secondary-field-length (16), secondary
    (
        UserIdentityRQ(2, True, b"user", b"pass"),
        b"\x58\x00\x00\x0e" + b"\x02\x01" + b"\x00\x04user" + b"\x00\x04pass",
    ),
    (UserIdentityRQ(1, False, b"bob"), b"\x58\x00\x00\x09" + b"\x01\x00" + b"\x00\x03bob\x00\x00"),
    # PS3.7 D.3.3.7.2: 59H, reserved, length, server-response-length (16), response
    (UserIdentityAC(b"tok"), b"\x59\x00\x00\x05" + b"\x00\x03tok"),
    (UserIdentityAC(b""), b"\x59\x00\x00\x02" + b"\x00\x00"),
    (UnknownItem(0x60, b"\xaa\xbb"), b"\x60\x00\x00\x02" + b"\xaa\xbb"),
    # PS3.8 9.3.2.3: 50H, reserved, length, sub-items
    (
        UserInformation((MaximumLength(16384), ImplementationClassUID("1.2.3.4"))),
        b"\x50\x00\x00\x13"
        + b"\x51\x00\x00\x04\x00\x00\x40\x00"
        + b"\x52\x00\x00\x07" + b"1.2.3.4",
    ),
    (UserInformation(), b"\x50\x00\x00\x00"),
    # PS3.8 9.3.2.2: 20H, reserved, length, context ID, 3 reserved, abstract syntax
    # sub-item (30H), transfer syntax sub-items (40H)
    (
        PresentationContextRQ(1, VERIFICATION, (IMPLICIT,)),
        b"\x20\x00\x00\x2e" + b"\x01\x00\x00\x00"
        + b"\x30\x00\x00\x11" + b(VERIFICATION)
        + b"\x40\x00\x00\x11" + b(IMPLICIT),
    ),
    (
        PresentationContextRQ(255, CT, (IMPLICIT, EXPLICIT)),
        b"\x20\x00\x00\x4d" + b"\xff\x00\x00\x00"
        + b"\x30\x00\x00\x19" + b(CT)
        + b"\x40\x00\x00\x11" + b(IMPLICIT)
        + b"\x40\x00\x00\x13" + b(EXPLICIT),
    ),
    # PS3.8 9.3.3.2: 21H, reserved, length, context ID, reserved, result, reserved,
    # transfer syntax sub-item
    (
        PresentationContextAC(3, 0, EXPLICIT),
        b"\x21\x00\x00\x1b" + b"\x03\x00\x00\x00" + b"\x40\x00\x00\x13" + b(EXPLICIT),
    ),
    (
        PresentationContextAC(5, 3, ""),
        b"\x21\x00\x00\x08" + b"\x05\x00\x03\x00" + b"\x40\x00\x00\x00",
    ),
]


@pytest.mark.parametrize(("item", "expected"), ITEMS, ids=lambda v: type(v).__name__)
def test_item_encoding(item: object, expected: bytes) -> None:
    assert item.encode() == expected  # type: ignore[attr-defined]


# -------------------------------------------------------------- PDUs, by hand

RQ_USER_INFO = (
    b"\x50\x00\x00\x1f"
    + b"\x51\x00\x00\x04\x00\x00\x40\x00"
    + b"\x52\x00\x00\x07" + b"1.2.3.4"
    + b"\x55\x00\x00\x08" + b"DIMSE_01"
)
RQ_PC = (
    b"\x20\x00\x00\x2e" + b"\x01\x00\x00\x00"
    + b"\x30\x00\x00\x11" + b(VERIFICATION)
    + b"\x40\x00\x00\x11" + b(IMPLICIT)
)
RQ_BYTES = (
    b"\x01\x00" + b"\x00\x00\x00\xb2"  # type 01H, reserved, PDU-length 178
    + b"\x00\x01" + b"\x00\x00"  # protocol version 1, reserved
    + b"ANY-SCP         "  # called AE title, 16 bytes space padded
    + b"ECHOSCU         "  # calling AE title
    + bytes(32)  # reserved
    + b"\x10\x00\x00\x15" + APP  # application context item
    + RQ_PC
    + RQ_USER_INFO
)
RQ = AAssociateRQ(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(PresentationContextRQ(1, VERIFICATION, (IMPLICIT,)),),
    user_information=UserInformation(
        (
            MaximumLength(16384),
            ImplementationClassUID("1.2.3.4"),
            ImplementationVersionName("DIMSE_01"),
        )
    ),
)

AC_BYTES = (
    b"\x02\x00" + b"\x00\x00\x00\x91"  # type 02H, PDU-length 145
    + b"\x00\x01\x00\x00"
    + b"ANY-SCP         " + b"ECHOSCU         " + bytes(32)  # echoed reserved fields
    + b"\x10\x00\x00\x15" + APP
    + b"\x21\x00\x00\x19" + b"\x01\x00\x00\x00" + b"\x40\x00\x00\x11" + b(IMPLICIT)
    + b"\x50\x00\x00\x13"
    + b"\x51\x00\x00\x04\x00\x00\x40\x00"
    + b"\x52\x00\x00\x07" + b"1.2.3.4"
)
AC = AAssociateAC(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(PresentationContextAC(1, 0, IMPLICIT),),
    user_information=UserInformation((MaximumLength(16384), ImplementationClassUID("1.2.3.4"))),
)

PDUS: list[tuple[PDU, bytes]] = [
    (RQ, RQ_BYTES),
    (AC, AC_BYTES),
    # PS3.8 9.3.4: type, reserved, length 4, reserved, result, source, reason
    (AAssociateRJ(1, 1, 7), b"\x03\x00\x00\x00\x00\x04\x00\x01\x01\x07"),
    (AAssociateRJ(2, 3, 1), b"\x03\x00\x00\x00\x00\x04\x00\x02\x03\x01"),
    # PS3.8 9.3.5: type, reserved, length, PDV items (length 32, context ID, control, data)
    (
        PDataTF((PDV(1, 0x03, b"\x01\x02\x03\x04"), PDV(3, 0x00, b""))),
        b"\x04\x00\x00\x00\x00\x10"
        + b"\x00\x00\x00\x06\x01\x03\x01\x02\x03\x04"
        + b"\x00\x00\x00\x02\x03\x00",
    ),
    # PS3.8 9.3.6/9.3.7: type, reserved, length 4, 4 reserved bytes
    (AReleaseRQ(), b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"),
    (AReleaseRP(), b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"),
    # PS3.8 9.3.8: type, reserved, length 4, 2 reserved, source, reason/diag
    (AAbort(2, 6), b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x06"),
    (AAbort(0, 0), b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00"),
]


@pytest.mark.parametrize(("pdu", "expected"), PDUS, ids=lambda v: type(v).__name__)
def test_pdu_encoding(pdu: PDU, expected: bytes) -> None:
    assert pdu.encode() == expected
    decoded = decode(expected)
    assert decoded == pdu
    assert type(decoded) is type(pdu)
    assert decoded.encode() == expected


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_decode_accepts_any_buffer(kind: type) -> None:
    assert decode(kind(RQ_BYTES)) == RQ


def test_pdu_and_item_types() -> None:
    assert [int(t) for t in PDUType] == [1, 2, 3, 4, 5, 6, 7]
    assert ItemType.USER_IDENTITY_AC == 0x59
    assert AAssociateRQ.pdu_type is PDUType.A_ASSOCIATE_RQ
    assert PDataTF.pdu_type == 4
    assert MaximumLength.item_type == ItemType.MAXIMUM_LENGTH
    assert RQ.application_context == APPLICATION_CONTEXT_NAME
    assert RQ.protocol_version == 1


def test_ae_titles_lose_trailing_spaces_only() -> None:
    pdu = decode(RQ_BYTES.replace(b"ECHOSCU         ", b"  ECHO SCU      "))
    assert isinstance(pdu, AAssociateRQ)
    assert pdu.calling_ae_title == "  ECHO SCU"
    assert attrs.evolve(RQ, calling_ae_title="ECHOSCU   ") == RQ


# ------------------------------------------------ P-DATA-TF: views and fast path


def test_pdata_decode_slices_the_buffer() -> None:
    data = PDataTF((PDV(1, 2, b"x" * 1000),)).encode()
    pdu = decode(data)
    assert isinstance(pdu, PDataTF)
    view = pdu.pdvs[0].data
    assert isinstance(view, memoryview)
    assert view.obj is data  # no copy of the PDV data
    assert pdu.pdvs[0].is_last and not pdu.pdvs[0].is_command


def test_encode_pdata_header_matches_encode() -> None:
    data = bytes(range(256)) * 3
    header = encode_pdata_header(7, 0x02, len(data))
    assert header == b"\x04\x00" + (len(data) + 6).to_bytes(4, "big") + (
        len(data) + 2
    ).to_bytes(4, "big") + b"\x07\x02"
    assert header + data == PDataTF((PDV(7, 2, data),)).encode()


def test_encode_parts_does_not_copy_data() -> None:
    data = memoryview(b"y" * 100)
    pdu = PDataTF([PDV(1, 0, data), PDV(3, 1, b"zz")])
    parts = pdu.encode_parts()
    assert parts[2] is data
    assert b"".join(parts) == pdu.encode()


def test_pdv_flags_and_memoryview_formats() -> None:
    pdv = PDV(1, 0x01, memoryview(b"\x01\x00\x02\x00").cast("H"))
    assert pdv.is_command and not pdv.is_last
    assert len(pdv.data) == 4  # flattened to bytes
    assert PDV(1, 3, b"ab") == PDV(1, 3, memoryview(b"ab"))


# ----------------------------------------------------- byte identity, reserved

# (offset, ) of every reserved byte in RQ_BYTES: PDU header, 9-10, 43-74 (1-based in
# PS3.8), then each item/sub-item header byte 2 and the presentation context's 3 bytes.
_APP, _PC = 74, 74 + 25
_UI = _PC + 50
RQ_RESERVED = [
    1, 8, 9, *range(42, 74),
    _APP + 1,
    _PC + 1, _PC + 5, _PC + 6, _PC + 7, _PC + 8 + 1, _PC + 8 + 21 + 1,
    _UI + 1, _UI + 4 + 1, _UI + 12 + 1, _UI + 23 + 1,
]


def test_reserved_bytes_are_not_tested_and_re_encode() -> None:
    wire = bytearray(RQ_BYTES)
    for offset in RQ_RESERVED:
        wire[offset] = 0xA5
    pdu = decode(bytes(wire))
    assert pdu == RQ  # reserved bytes carry no meaning
    assert pdu.encode() == bytes(wire)  # ...but a decoded PDU re-encodes as received
    assert "Reserved bytes (not tested)" in pdu.describe()
    # evolve() builds a new PDU: its own reserved fields go back to 0
    fresh = attrs.evolve(pdu, user_information=RQ.user_information)
    assert fresh.encode()[:74] == RQ_BYTES[:74]


@pytest.mark.parametrize(
    ("pdu_bytes", "offsets"),
    [
        (b"\x03\x00\x00\x00\x00\x04\x00\x01\x01\x07", [1, 6]),
        (b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00", [1, 6, 7, 8, 9]),
        (b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00", [1, 6, 7, 8, 9]),
        (b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x01", [1, 6, 7]),
        (b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x02\x01\x00", [1]),
        (AC_BYTES, [1, 8, 9, *range(42, 74), 75, 100, 104, 106, 108, 129, 133, 141]),
    ],
)
def test_reserved_bytes_every_pdu(pdu_bytes: bytes, offsets: list[int]) -> None:
    wire = bytearray(pdu_bytes)
    for offset in offsets:
        wire[offset] = 0xFF
    assert decode(bytes(wire)) == decode(pdu_bytes)
    assert decode(bytes(wire)).encode() == bytes(wire)


def test_items_out_of_order_re_encode_as_received() -> None:
    unknown = b"\x60\x00\x00\x01\x99"
    body = RQ_BYTES[6:74] + RQ_USER_INFO + unknown + RQ_PC + b"\x10\x00\x00\x15" + APP
    wire = b"\x01\x00" + len(body).to_bytes(4, "big") + body
    pdu = decode(wire)
    assert isinstance(pdu, AAssociateRQ)
    assert pdu.unknown_items == (UnknownItem(0x60, b"\x99"),)
    assert attrs.evolve(pdu, unknown_items=()) == RQ
    assert pdu.encode() == wire
    canonical = attrs.evolve(pdu).encode()  # a new object uses PS3.8 item-type order
    assert canonical[74:] == b"\x10\x00\x00\x15" + APP + RQ_PC + RQ_USER_INFO + unknown


def test_transfer_syntax_before_abstract_syntax_round_trips() -> None:
    pc = (
        b"\x20\x00\x00\x2e\x01\x00\x00\x00"
        + b"\x40\x00\x00\x11" + b(IMPLICIT)
        + b"\x30\x00\x00\x11" + b(VERIFICATION)
    )
    wire = RQ_BYTES.replace(RQ_PC, pc)
    pdu = decode(wire)
    assert pdu == RQ
    assert pdu.encode() == wire


def test_rejected_context_without_transfer_syntax_round_trips() -> None:
    pc = b"\x21\x00\x00\x04\x01\x00\x03\x00"  # PS3.8: not significant, so some omit it
    body = AC_BYTES[6:99] + pc + AC_BYTES[99 + 29 :]
    wire = b"\x02\x00" + len(body).to_bytes(4, "big") + body
    pdu = decode(wire)
    assert isinstance(pdu, AAssociateAC)
    assert pdu.presentation_contexts[0] == PresentationContextAC(1, 3, "")
    assert not pdu.presentation_contexts[0].accepted
    assert pdu.encode() == wire


def test_unknown_items_everywhere_are_kept() -> None:
    unknown_pc = PresentationContextRQ(1, VERIFICATION, (IMPLICIT,), (UnknownItem(0x31, b"?"),))
    info = UserInformation((MaximumLength(0), UnknownItem(0x7F, b"future")))
    rq = attrs.evolve(RQ, presentation_contexts=(unknown_pc,), user_information=info,
                      unknown_items=(UnknownItem(0x90, b""),))
    again = decode(rq.encode())
    assert again == rq
    assert again.user_information.unknown_items == (UnknownItem(0x7F, b"future"),)


def test_uid_nul_pad_is_kept() -> None:
    pc = PresentationContextRQ(1, VERIFICATION + "\0", (IMPLICIT + "\0",))
    rq = attrs.evolve(RQ, presentation_contexts=(pc,))
    decoded = decode(rq.encode())
    assert isinstance(decoded, AAssociateRQ)
    assert decoded.presentation_contexts[0].abstract_syntax == VERIFICATION + "\0"


# -------------------------------------------------------- user information API


def test_user_information_properties() -> None:
    identity = UserIdentityRQ(1, False, b"bob")
    roles = (RoleSelection(CT, True, True), RoleSelection(VERIFICATION, False, True))
    ext = SOPClassExtendedNegotiation(CT, b"\x01")
    common = SOPClassCommonExtendedNegotiation(CT, STORAGE)
    window = AsynchronousOperationsWindow(0, 1)
    info = UserInformation(
        (MaximumLength(100), roles[0], ImplementationClassUID("1.2"), ext, identity,
         ImplementationVersionName("V"), window, common, roles[1], MaximumLength(5))
    )
    assert info.maximum_length == MaximumLength(100)
    assert info.implementation_class_uid == ImplementationClassUID("1.2")
    assert info.implementation_version_name == ImplementationVersionName("V")
    assert info.asynchronous_operations_window == window
    assert info.role_selections == roles
    assert info.extended_negotiations == (ext,)
    assert info.common_extended_negotiations == (common,)
    assert info.user_identity == identity
    empty = UserInformation()
    assert empty.maximum_length is None and empty.user_identity is None
    assert empty.role_selections == () and empty.unknown_items == ()


# ------------------------------------------------------------------ debug dumps


def test_describe_dumps() -> None:
    text = str(decode(RQ_BYTES))
    assert text.splitlines()[0] == "A-ASSOCIATE-RQ"
    assert "Called AE title: 'ANY-SCP'" in text
    assert "Abstract syntax: 1.2.840.10008.1.1 (Verification SOP Class)" in text
    assert "Maximum length: 16384" in text
    for pdu, _ in PDUS:
        assert pdu.describe() == str(pdu)
        assert pdu.describe()
    secret = UserIdentityRQ(2, True, b"alice", b"s3cret-passcode")
    assert "s3cret" not in secret.describe()
    assert "alice" in secret.describe()
    assert "tok" not in UserIdentityAC(b"tok").describe()
    assert "0x60" in UnknownItem(0x60, b"").describe()
    assert "command" in PDataTF((PDV(1, 1, b""),)).describe()


# ------------------------------------------------------------- round trips

ROUND_TRIP = settings(max_examples=60, deadline=None)


def _round_trip(pdu: PDU) -> None:
    wire = pdu.encode()
    again = decode(wire)
    assert again == pdu
    assert type(again) is type(pdu)
    assert again.encode() == wire
    assert again.describe()


@pytest.mark.parametrize(
    "strategy",
    [associate_rqs, associate_acs, associate_rjs, pdata_tfs, pdus],
    ids=["A-ASSOCIATE-RQ", "A-ASSOCIATE-AC", "A-ASSOCIATE-RJ", "P-DATA-TF", "any"],
)
@ROUND_TRIP
@given(data=st.data())
def test_round_trip(strategy: st.SearchStrategy[PDU], data: st.DataObject) -> None:
    _round_trip(data.draw(strategy))


@pytest.mark.parametrize("pdu", [AReleaseRQ(), AReleaseRP(), AAbort(2, 4), AAbort(0, 0)])
def test_round_trip_fixed(pdu: PDU) -> None:
    _round_trip(pdu)


SUB_ITEM_STRATEGIES = [
    maximum_lengths,
    implementation_uids,
    version_names,
    async_windows,
    role_selections,
    extended_negotiations,
    common_extended_negotiations,
    identity_rqs,
    identity_acs,
]


@pytest.mark.parametrize("strategy", SUB_ITEM_STRATEGIES, ids=lambda s: repr(s)[:40])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_sub_item_round_trip(strategy: st.SearchStrategy[object], data: st.DataObject) -> None:
    item = data.draw(strategy)
    _round_trip(attrs.evolve(RQ, user_information=UserInformation((item,))))  # type: ignore[arg-type]
    _round_trip(attrs.evolve(AC, user_information=UserInformation((item,))))  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(rq_pc=pc_rqs, ac_pc=pc_acs())
def test_presentation_context_round_trip(
    rq_pc: PresentationContextRQ, ac_pc: PresentationContextAC
) -> None:
    _round_trip(attrs.evolve(RQ, presentation_contexts=(rq_pc,)))
    _round_trip(attrs.evolve(AC, presentation_contexts=(ac_pc,)))
