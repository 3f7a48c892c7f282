"""dimse.pdu faults: peer faults are ProtocolError (reason, where), local misuse UsageError."""

from __future__ import annotations

import re

import attrs
import pytest

from dimse.errors import AbortReason, ProtocolError, UsageError
from dimse.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
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

INVALID = AbortReason.INVALID_PDU_PARAMETER_VALUE
UNEXPECTED = AbortReason.UNEXPECTED_PDU_PARAMETER
VERIFICATION = b"1.2.840.10008.1.1"
IMPLICIT = b"1.2.840.10008.1.2"


def item(item_type: int, value: bytes) -> bytes:
    return bytes((item_type, 0)) + len(value).to_bytes(2, "big") + value


def pdu(pdu_type: int, body: bytes) -> bytes:
    return bytes((pdu_type, 0)) + len(body).to_bytes(4, "big") + body


def associate(items: bytes, pdu_type: int = 1) -> bytes:
    fixed = b"\x00\x01\x00\x00" + b"CALLED".ljust(16) + b"CALLING".ljust(16) + bytes(32)
    return pdu(pdu_type, fixed + items)


APP = item(0x10, b"1.2.840.10008.3.1.1.1")
PC = item(0x20, b"\x01\x00\x00\x00" + item(0x30, VERIFICATION) + item(0x40, IMPLICIT))
PC_AC = item(0x21, b"\x01\x00\x00\x00" + item(0x40, IMPLICIT))
UI = item(0x50, item(0x51, b"\x00\x00\x40\x00"))


def rq_with_ui(*sub_items: bytes) -> bytes:
    return associate(APP + PC + item(0x50, b"".join(sub_items)))


def expect(data: bytes, reason: AbortReason, *where: str, offset: int | None = None) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(data)
    error = info.value
    assert error.reason == reason, error
    for fragment in where:
        assert fragment in error.where, error
    match = re.search(r"@ byte (\d+)$", error.where)
    assert match, error.where
    if offset is not None:
        assert int(match.group(1)) == offset, error
    assert "internal decoder error" not in error.message


def test_valid_baselines() -> None:
    assert isinstance(decode(associate(APP + PC + UI)), AAssociateRQ)
    assert isinstance(decode(associate(APP + PC_AC + UI, 2)), AAssociateAC)


# ---------------------------------------------------------------- PDU header


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x04\x00\x00\x00\x00"])
def test_short_header(data: bytes) -> None:
    expect(data, INVALID, "PDU header", offset=0)


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0x10, 0xFF])
def test_unknown_pdu_type(pdu_type: int) -> None:
    expect(pdu(pdu_type, b"\x00" * 4), AbortReason.UNRECOGNIZED_PDU, "PDU header", offset=0)


@pytest.mark.parametrize("delta", [-1, 1, 100])
def test_length_disagrees_with_buffer(delta: int) -> None:
    data = associate(APP + PC + UI)
    data = data[:2] + (len(data) - 6 + delta).to_bytes(4, "big") + data[6:]
    expect(data, INVALID, "A-ASSOCIATE-RQ", offset=2)


def test_trailing_bytes_after_whole_pdu() -> None:
    expect(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00", INVALID, "A-RELEASE-RQ", offset=2)


@pytest.mark.parametrize("pdu_type", [3, 5, 6, 7])
@pytest.mark.parametrize("length", [0, 3, 5, 1000])
def test_fixed_size_pdus(pdu_type: int, length: int) -> None:
    expect(pdu(pdu_type, bytes(length)), INVALID, "@ byte 2")


def test_associate_shorter_than_fixed_fields() -> None:
    expect(pdu(1, bytes(67)), INVALID, "A-ASSOCIATE-RQ", offset=2)


# --------------------------------------------------------- A-ASSOCIATE items


def test_item_overruns_pdu() -> None:
    bad_app = APP[:2] + b"\x01\x00" + APP[4:]
    expect(associate(bad_app + PC + UI), INVALID, "A-ASSOCIATE-RQ > Application Context item",
           offset=74)


def test_truncated_item_header() -> None:
    expect(associate(APP + PC + UI + b"\x60\x00\x00"), INVALID, "A-ASSOCIATE-RQ",
           offset=74 + len(APP + PC + UI))


@pytest.mark.parametrize(
    ("items", "missing"),
    [
        (PC + UI, "no Application Context item"),
        (APP + UI, "no Presentation Context item (RQ)"),
        (APP + PC, "no User Information item"),
        (APP + PC_AC + UI, "no Presentation Context item (RQ)"),  # wrong kind for an RQ
    ],
)
def test_missing_mandatory_items(items: bytes, missing: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(missing)) as info:
        decode(associate(items))
    assert info.value.reason == INVALID


@pytest.mark.parametrize(
    "items", [APP + APP + PC + UI, APP + PC + UI + UI], ids=["application context", "user info"]
)
def test_duplicate_single_items(items: bytes) -> None:
    expect(associate(items), UNEXPECTED, "A-ASSOCIATE-RQ")


@pytest.mark.parametrize("cid", [0, 2, 254])
def test_even_context_id(cid: int) -> None:
    pc = item(0x20, bytes((cid, 0, 0, 0)) + item(0x30, VERIFICATION) + item(0x40, IMPLICIT))
    expect(associate(APP + pc + UI), INVALID, "Presentation Context item (RQ)",
           offset=74 + len(APP) + 4)
    pc_ac = item(0x21, bytes((cid, 0, 0, 0)) + item(0x40, IMPLICIT))
    expect(associate(APP + pc_ac + UI, 2), INVALID, "Presentation Context item (AC)",
           offset=74 + len(APP) + 4)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x01\x00\x00", "too short"),
        (b"\x01\x00\x00\x00" + item(0x40, IMPLICIT), "no Abstract Syntax"),
        (b"\x01\x00\x00\x00" + item(0x30, VERIFICATION), "no Transfer Syntax"),
        (b"\x01\x00\x00\x00" + item(0x30, VERIFICATION) * 2 + item(0x40, IMPLICIT),
         "second Abstract Syntax"),
        (b"\x01\x00\x00\x00" + item(0x30, VERIFICATION) + b"\x40\x00\x00\x20" + IMPLICIT,
         "runs 15 byte(s) past its parent"),
    ],
)
def test_bad_presentation_context_rq(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)) as info:
        decode(associate(APP + item(0x20, body) + UI))
    assert "A-ASSOCIATE-RQ > Presentation Context item (RQ)" in info.value.where


def test_sub_item_overrun_names_the_sub_item() -> None:
    body = b"\x01\x00\x00\x00" + item(0x30, VERIFICATION) + b"\x40\x00\x00\x20" + IMPLICIT
    expect(associate(APP + item(0x20, body) + UI), INVALID,
           "A-ASSOCIATE-RQ > Presentation Context item (RQ) > Transfer Syntax sub-item",
           offset=74 + len(APP) + 8 + 21)


def test_presentation_context_ac_rules() -> None:
    accepted_without_ts = item(0x21, b"\x01\x00\x00\x00")
    expect(associate(APP + accepted_without_ts + UI, 2), INVALID, "Presentation Context item (AC)")
    two = item(0x21, b"\x01\x00\x00\x00" + item(0x40, IMPLICIT) * 2)
    expect(associate(APP + two + UI, 2), UNEXPECTED, "Presentation Context item (AC)")
    rejected_without_ts = item(0x21, b"\x01\x00\x04\x00")
    data = associate(APP + rejected_without_ts + UI, 2)
    assert decode(data).encode() == data


def test_unknown_items_are_not_errors() -> None:
    odd = item(0x21, b"\x01\x00\x00\x00" + item(0x40, IMPLICIT))  # an AC item in an RQ
    data = associate(APP + PC + odd + UI + item(0xEE, b"x"))
    decoded = decode(data)
    assert isinstance(decoded, AAssociateRQ)
    assert [u.item_type for u in decoded.unknown_items] == [0x21, 0xEE]
    assert decoded.encode() == data


# ------------------------------------------------------- user information


@pytest.mark.parametrize(
    ("sub_item", "name", "message"),
    [
        (item(0x51, b"\x00\x00\x40"), "Maximum Length", "item length 3"),
        (item(0x51, b"\x00\x00\x40\x00\x00"), "Maximum Length", "item length 5"),
        (item(0x53, b"\x00\x01\x00"), "Asynchronous Operations Window", "item length 3"),
        (item(0x54, b"\x00"), "Role Selection", "no room"),
        (item(0x54, b"\x00\x05" + b"1.2"), "Role Selection", "runs past"),
        (item(0x54, b"\x00\x03" + b"1.2" + b"\x01"), "Role Selection", "must end"),
        (item(0x54, b"\x00\x03" + b"1.2" + b"\x01\x00\x00"), "Role Selection", "must end"),
        (item(0x54, b"\x00\x03" + b"1.2" + b"\x02\x00"), "Role Selection", "SCU-role is 2"),
        (item(0x54, b"\x00\x03" + b"1.2" + b"\x00\xff"), "Role Selection", "SCP-role is 255"),
        (item(0x56, b"\x00\x09" + b"1.2"), "SOP Class Extended Negotiation", "runs past"),
        (item(0x57, b"\x00\x03" + b"1.2"), "Common Extended", "service class UID length"),
        (item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x01" + b"3" + b"\x00\x05" + b"\x00\x01"),
         "Common Extended", "related general SOP class identification length"),
        (item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x01" + b"3" + b"\x00\x03" + b"\x00\x02"
              + b"4"), "Common Extended", "related general SOP class UID length"),
        (item(0x57, b"\x00\x03" + b"1.2" + b"\x00\x01" + b"3" + b"\x00\x00" + b"!"),
         "Common Extended", "after the last field"),
        (item(0x58, b"\x01"), "User Identity sub-item (RQ)", "too short"),
        (item(0x58, b"\x01\x02\x00\x00\x00\x00"), "User Identity sub-item (RQ)",
         "positive-response-requested is 2"),
        (item(0x58, b"\x01\x00\x00\x07abc\x00\x00"), "User Identity sub-item (RQ)", "runs past"),
        (item(0x58, b"\x01\x00\x00\x01a"), "User Identity sub-item (RQ)", "secondary field"),
        (item(0x58, b"\x01\x00\x00\x01a\x00\x00z"), "User Identity sub-item (RQ)",
         "after the last"),
        (item(0x59, b"\x00\x03ab"), "User Identity sub-item (AC)", "runs past"),
        (item(0x59, b"\x00\x01ab"), "User Identity sub-item (AC)", "after the last"),
        (b"\x51\x00\x00\x09\x00\x00\x40\x00", "User Information item", "runs"),
    ],
)
def test_bad_user_information(sub_item: bytes, name: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)) as info:
        decode(rq_with_ui(item(0x51, b"\x00\x00\x40\x00"), sub_item))
    assert info.value.reason == INVALID
    assert "A-ASSOCIATE-RQ > User Information item" in info.value.where
    assert name in info.value.where


def test_user_information_lenient_values() -> None:
    # Values PS3.7 leaves to the application: decoded as sent, judged by negotiation.
    data = rq_with_ui(
        item(0x52, b"not a uid!"),
        item(0x55, b"way too long a version name\x00"),
        item(0x58, b"\x09\x01\x00\x00\x00\x00"),
        item(0x5A, b"from the future"),
    )
    decoded = decode(data)
    assert isinstance(decoded, AAssociateRQ)
    info = decoded.user_information
    assert info.implementation_class_uid is not None
    assert info.implementation_class_uid.uid == "not a uid!"
    assert info.maximum_length is None  # absent is for negotiation to handle
    assert info.unknown_items == (UnknownItem(0x5A, b"from the future"),)
    assert decoded.encode() == data


def test_empty_ae_titles_decode() -> None:
    data = associate(APP + PC + UI).replace(b"CALLED".ljust(16), b" " * 16)
    decoded = decode(data)
    assert isinstance(decoded, AAssociateRQ)
    assert decoded.called_ae_title == ""  # negotiation answers with A-ASSOCIATE-RJ
    assert decoded.encode() == data


# ------------------------------------------------------------------ P-DATA-TF


def pdv(length: int, cid: int, rest: bytes) -> bytes:
    return length.to_bytes(4, "big") + bytes((cid,)) + rest


@pytest.mark.parametrize(
    ("body", "offset", "message"),
    [
        (pdv(1, 1, b"\x00"), 6, "item length 1"),
        (pdv(0, 1, b"\x00"), 6, "item length 0"),
        (pdv(6, 1, b"\x03abc"), 6, "runs 1 byte(s) past"),
        (pdv(0xFFFFFFFF, 1, b"\x03"), 6, "past the PDU"),
        (pdv(2, 0, b"\x03"), 10, "presentation context ID 0"),
        (pdv(2, 2, b"\x03"), 10, "presentation context ID 2"),
        (pdv(3, 1, b"\x03a") + b"\x00\x00\x00", 13, "too few for a PDV item header"),
        (pdv(3, 1, b"\x03a") + pdv(2, 4, b"\x00"), 17, "presentation context ID 4"),
    ],
)
def test_bad_pdata(body: bytes, offset: int, message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)) as info:
        decode(pdu(4, body))
    assert info.value.reason == INVALID
    assert info.value.where.startswith("P-DATA-TF")
    assert info.value.where.endswith(f"@ byte {offset}")


def test_pdata_without_pdv() -> None:
    expect(pdu(4, b""), INVALID, "P-DATA-TF", offset=2)


def test_pdata_second_pdv_is_named() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(pdu(4, pdv(2, 1, b"\x00") + pdv(1, 1, b"")))
    assert "PDV item 2" in info.value.where


def test_decode_rejects_non_buffers() -> None:
    with pytest.raises(UsageError):
        decode("not bytes")  # type: ignore[arg-type]


# ------------------------------------------------------------ local misuse

PC_OK = PresentationContextRQ(1, "1.2.840.10008.1.1", ("1.2.840.10008.1.2",))
UI_OK = UserInformation((MaximumLength(0),))


@pytest.mark.parametrize(
    "build",
    [
        lambda: AAssociateRQ("", "B", (PC_OK,), UI_OK),
        lambda: AAssociateRQ("   ", "B", (PC_OK,), UI_OK),
        lambda: AAssociateRQ("A" * 17, "B", (PC_OK,), UI_OK),
        lambda: AAssociateRQ("A\\B", "B", (PC_OK,), UI_OK),
        lambda: AAssociateRQ("A\tB", "B", (PC_OK,), UI_OK),
        lambda: AAssociateRQ("A", "B", (), UI_OK),
        lambda: AAssociateRQ("A", "B", (PC_OK, PC_OK), UI_OK),
        lambda: AAssociateRQ("A", "B", (PC_OK,), (MaximumLength(0),)),
        lambda: AAssociateRQ("A", "B", [PC_OK], UI_OK),
        lambda: AAssociateRQ("A", "B", (PC_OK,), UI_OK, application_context=""),
        lambda: AAssociateRQ("A", "B", (PC_OK,), UI_OK, protocol_version=0x10000),
        lambda: AAssociateAC("A" * 17, "B", (PresentationContextAC(1, 0, "1.2"),), UI_OK),
        lambda: AAssociateAC("A", "B", (PC_OK,), UI_OK),
        lambda: PresentationContextRQ(0, "1.2", ("1.2",)),
        lambda: PresentationContextRQ(2, "1.2", ("1.2",)),
        lambda: PresentationContextRQ(257, "1.2", ("1.2",)),
        lambda: PresentationContextRQ(True, "1.2", ("1.2",)),
        lambda: PresentationContextRQ(1, "1.2", ()),
        lambda: PresentationContextRQ(1, "1.2", "1.2"),
        lambda: PresentationContextRQ(1, "1." * 33, ("1.2",)),
        lambda: PresentationContextRQ(1, "1.2", ("1.2 ",)),
        lambda: PresentationContextRQ(1, "", ("1.2",)),
        lambda: PresentationContextAC(1, 0, ""),
        lambda: PresentationContextAC(1, 5, "1.2"),
        lambda: MaximumLength(-1),
        lambda: MaximumLength(1 << 32),
        lambda: ImplementationClassUID("1.2.x"),
        lambda: ImplementationVersionName(""),
        lambda: ImplementationVersionName("X" * 17),
        lambda: AsynchronousOperationsWindow(0x10000, 1),
        lambda: RoleSelection("1.2", 1, 0),
        lambda: SOPClassExtendedNegotiation("1.2", "text"),
        lambda: SOPClassCommonExtendedNegotiation("1.2", "1.3", ("1.4", "x")),
        lambda: SOPClassCommonExtendedNegotiation("1.2", "1.3", version=256),
        lambda: UserIdentityRQ(1, True, b"x" * 0x10000),
        lambda: UserIdentityRQ(256, True, b"x"),
        lambda: UserIdentityAC("response"),
        lambda: UnknownItem(0x100, b""),
        lambda: UnknownItem(0x60, b"x" * 0x10000),
        lambda: UserInformation((PC_OK,)),
        lambda: PDV(0, 0, b""),
        lambda: PDV(1, 256, b""),
        lambda: PDV(1, 0, "text"),
        lambda: PDataTF(()),
        lambda: PDataTF((b"raw",)),
        lambda: AAssociateRJ(3, 1, 1),
        lambda: AAssociateRJ(1, 4, 1),
        lambda: AAssociateRJ(1, 1, 256),
        lambda: AAbort(3, 0),
        lambda: AAbort(2, -1),
        lambda: encode_pdata_header(2, 0, 0),
        lambda: encode_pdata_header(1, 256, 0),
        lambda: encode_pdata_header(1, 0, -1),
        lambda: encode_pdata_header(1, 0, 0xFFFFFFFA),
    ],
)
def test_constructors_reject_misuse(build: object) -> None:
    with pytest.raises(UsageError):
        build()  # type: ignore[operator]


def test_constructors_accept_edge_values() -> None:
    uid64 = "1." + "2" * 62
    assert PresentationContextRQ(255, uid64, (uid64 + "\0",)).context_id == 255
    assert AAssociateAC("", "", (PresentationContextAC(1, 4, ""),), UI_OK).called_ae_title == ""
    assert AAssociateRQ(" A", "B" * 16, (PC_OK,), UI_OK).called_ae_title == " A"
    assert PDataTF([PDV(1, 0, b"")]).pdvs == (PDV(1, 0, b""),)


def test_item_too_long_for_its_length_field() -> None:
    many = PresentationContextRQ(1, "1.2", tuple(["1.2.840.10008.1.2.4.50"] * 3000))
    with pytest.raises(UsageError):
        many.encode()
    info = UserInformation(tuple(RoleSelection("1.2.3.4.5.6", True, True) for _ in range(4000)))
    rq = AAssociateRQ("A", "B", (PC_OK,), info)
    with pytest.raises(UsageError):
        rq.encode()


def test_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        PC_OK.context_id = 3  # type: ignore[misc]
