"""Typed DIMSE-C messages: exact bytes, round trips, mandatory fields both ways, statuses."""

from __future__ import annotations

import contextlib
import io
import string
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dimse import command_set as cs
from dimse import statuses
from dimse._status_base import Category
from dimse.errors import ProtocolError, UsageError
from dimse.messages import (
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    CGetRQ,
    CGetRSP,
    CMoveRQ,
    CMoveRSP,
    CStoreRQ,
    CStoreRSP,
    Message,
    MessageFieldError,
    Priority,
    decode_message,
    message_type,
)
from dimse.service_classes import StorageServiceClass

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

# Built by hand from PS3.7 Tables 9.3-12 and 9.3-1 / E.1-1 (the same bytes are
# cross-checked against pydicom in test_command_set.py).
ECHO_RQ = bytes.fromhex(
    "0000 0000 04000000 38000000"  # (0000,0000) UL group length 56
    "0000 0200 12000000" + b"1.2.840.10008.1.1\0".hex() +  # Affected SOP Class UID
    "0000 0001 02000000 3000"  # Command Field C-ECHO-RQ
    "0000 1001 02000000 0100"  # Message ID 1
    "0000 0008 02000000 0101"  # no data set
)  # fmt: skip
STORE_RQ = bytes.fromhex(
    "0000 0000 04000000 78000000"  # group length 120
    "0000 0200 1a000000" + (CT_IMAGE_STORAGE + "\0").encode().hex() +
    "0000 0001 02000000 0100"  # C-STORE-RQ
    "0000 1001 02000000 0700"  # Message ID 7
    "0000 0007 02000000 0200"  # Priority LOW
    "0000 0008 02000000 0100"  # data set present
    "0000 0010 0a000000" + b"1.2.3.4.5\0".hex() +  # Affected SOP Instance UID
    "0000 3010 0a000000" + b"STORESCU1 ".hex() +  # Move Originator AE title
    "0000 3110 02000000 0300"  # Move Originator Message ID 3
)  # fmt: skip

ALL_TYPES: list[type[Message]] = [
    CEchoRQ, CEchoRSP, CStoreRQ, CStoreRSP, CFindRQ, CFindRSP,
    CGetRQ, CGetRSP, CMoveRQ, CMoveRSP, CCancelRQ,
]  # fmt: skip

# Mandatory fields per PS3.7 (C-STORE: the service definition's M parameters; the
# others: Tables 9.3-3..9.3-13). Command Field and Command Data Set Type are implied.
MANDATORY: dict[type[Message], set[str]] = {
    CEchoRQ: {"message_id", "affected_sop_class_uid"},
    CEchoRSP: {"message_id_being_responded_to", "status"},
    CStoreRQ: {"message_id", "affected_sop_class_uid", "affected_sop_instance_uid", "priority"},
    CStoreRSP: {"message_id_being_responded_to", "status"},
    CFindRQ: {"message_id", "affected_sop_class_uid", "priority"},
    CFindRSP: {"message_id_being_responded_to", "status"},
    CGetRQ: {"message_id", "affected_sop_class_uid", "priority"},
    CGetRSP: {"message_id_being_responded_to", "status"},
    CMoveRQ: {"message_id", "affected_sop_class_uid", "priority", "move_destination"},
    CMoveRSP: {"message_id_being_responded_to", "status"},
    CCancelRQ: {"message_id_being_responded_to"},
}


def test_echo_rq_exact_bytes() -> None:
    message = CEchoRQ(message_id=1)
    assert message.to_command() == ECHO_RQ
    assert message.encode_command() == ECHO_RQ
    assert decode_message(ECHO_RQ) == message


def test_store_rq_exact_bytes() -> None:
    message = CStoreRQ(
        message_id=7,
        affected_sop_class_uid=CT_IMAGE_STORAGE,
        affected_sop_instance_uid="1.2.3.4.5",
        priority=Priority.LOW,
        move_originator_application_entity_title="STORESCU1",
        move_originator_message_id=3,
    )
    assert message.to_command() == STORE_RQ
    decoded = decode_message(STORE_RQ)
    assert decoded == message
    assert isinstance(decoded, CStoreRQ) and decoded.priority is Priority.LOW


def test_mandatory_table_matches_classes() -> None:
    for cls, expected in MANDATORY.items():
        wired = {f.name for f in attrs.fields(cls) if f.metadata.get("m")}
        assert wired == expected, cls.name


def test_priority_values() -> None:
    assert (Priority.LOW, Priority.MEDIUM, Priority.HIGH) == (2, 0, 1)


# ----------------------------------------------------------------- strategies

UIDS = st.from_regex(r"[12](\.(0|[1-9][0-9]{0,8})){1,7}", fullmatch=True)
AE = st.text(string.ascii_uppercase + string.digits + "_", min_size=1, max_size=16)
LO = st.text(string.ascii_letters + string.digits + " .:-", max_size=64).filter(
    lambda s: s == s.strip()
)
US = st.integers(0, 0xFFFF)
TAGS = st.lists(st.integers(0, 0xFFFFFFFF), max_size=3).map(tuple)
BY_VR: dict[str, st.SearchStrategy[Any]] = {"US": US, "UI": UIDS, "AE": AE, "LO": LO, "AT": TAGS}
EXTRA = st.dictionaries(
    st.integers(1, 0xFFFF).filter(lambda e: e not in cs.ELEMENTS),
    st.binary(max_size=12).map(lambda b: b + b"\0" * (len(b) & 1)),
    max_size=2,
).map(lambda d: tuple(sorted(d.items())))


@st.composite
def messages(draw: st.DrawFn, cls: type[Message]) -> Message:
    kwargs: dict[str, Any] = {"extra": draw(EXTRA)}
    for field in attrs.fields(cls):
        element = field.metadata.get("element")
        if element is None:
            continue
        if element == cs.PRIORITY:
            strategy: st.SearchStrategy[Any] = st.sampled_from(Priority)
        else:
            strategy = BY_VR[cs.ELEMENTS[element].vr]
        if field.metadata["m"]:
            kwargs[field.name] = draw(strategy)
        else:
            kwargs[field.name] = draw(st.none() | strategy)
    if cls.fixed_dataset is None:
        kwargs["has_dataset"] = draw(st.booleans())
    return cls(**kwargs)


ANY_MESSAGE = st.one_of([messages(cls) for cls in ALL_TYPES])


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.name)
@given(data=st.data())
def test_round_trip_every_type(cls: type[Message], data: st.DataObject) -> None:
    message = data.draw(messages(cls))
    encoded = message.to_command()
    decoded = decode_message(encoded)
    assert type(decoded) is cls
    assert decoded == message
    assert decoded.to_command() == encoded
    assert cs.decode(encoded)[cs.COMMAND_FIELD] == cls.command_field


@given(ANY_MESSAGE, st.data())
def test_corrupted_commands_only_protocol_errors(message: Message, data: st.DataObject) -> None:
    raw = bytearray(message.to_command())
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ProtocolError):
        decode_message(bytes(raw))


# ------------------------------------------------------- mandatory fields, both ways

FULL: dict[type[Message], dict[str, Any]] = {
    CEchoRQ: {"message_id": 1},
    CEchoRSP: {"message_id_being_responded_to": 1, "status": 0},
    CStoreRQ: {"message_id": 1, "affected_sop_class_uid": CT_IMAGE_STORAGE,
               "affected_sop_instance_uid": "1.2.3"},
    CStoreRSP: {"message_id_being_responded_to": 1, "status": 0},
    CFindRQ: {"message_id": 1, "affected_sop_class_uid": "1.2.3"},
    CFindRSP: {"message_id_being_responded_to": 1, "status": 0xFF00, "has_dataset": True},
    CGetRQ: {"message_id": 1, "affected_sop_class_uid": "1.2.3"},
    CGetRSP: {"message_id_being_responded_to": 1, "status": 0xFF00,
              "number_of_remaining_suboperations": 3},
    CMoveRQ: {"message_id": 1, "affected_sop_class_uid": "1.2.3", "move_destination": "DEST"},
    CMoveRSP: {"message_id_being_responded_to": 1, "status": 0},
    CCancelRQ: {"message_id_being_responded_to": 1},
}  # fmt: skip

CASES = [(cls, attr) for cls, attrs_ in MANDATORY.items() for attr in sorted(attrs_)]


@pytest.mark.parametrize(("cls", "attr"), CASES, ids=[f"{c.name}-{a}" for c, a in CASES])
def test_local_message_missing_mandatory_is_usage_error(cls: type[Message], attr: str) -> None:
    kwargs = dict(FULL[cls])
    kwargs[attr] = None
    with pytest.raises(UsageError) as info:
        cls(**kwargs)
    assert isinstance(info.value, MessageFieldError)
    keyword = cs.ELEMENTS[{f.name: f for f in attrs.fields(cls)}[attr].metadata["element"]].keyword
    assert info.value.keyword == keyword
    assert cls.name in str(info.value)


@pytest.mark.parametrize(("cls", "attr"), CASES, ids=[f"{c.name}-{a}" for c, a in CASES])
def test_peer_message_missing_mandatory_is_protocol_error(cls: type[Message], attr: str) -> None:
    message = cls(**FULL[cls])
    elements = message.command_set()
    element = {f.name: f for f in attrs.fields(cls)}[attr].metadata["element"]
    del elements[element]
    with pytest.raises(ProtocolError) as info:
        decode_message(cs.encode(elements))
    assert info.value.where == f"{cls.name} {cs.ELEMENTS[element].keyword}"


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.name)
def test_missing_command_data_set_type(cls: type[Message]) -> None:
    elements = cls(**FULL[cls]).command_set()
    del elements[cs.COMMAND_DATA_SET_TYPE]
    with pytest.raises(ProtocolError) as info:
        decode_message(cs.encode(elements))
    assert info.value.where == f"{cls.name} CommandDataSetType"


def test_omitted_mandatory_argument_is_usage_error_too() -> None:
    with pytest.raises(UsageError, match="AffectedSOPInstanceUID"):
        CStoreRQ(message_id=1, affected_sop_class_uid=CT_IMAGE_STORAGE)
    with pytest.raises(UsageError, match="MessageIDBeingRespondedTo"):
        CStoreRSP(status=0)
    with pytest.raises(UsageError, match="Status"):
        CFindRSP(message_id_being_responded_to=2)


def test_data_set_presence_is_fixed_where_ps37_fixes_it() -> None:
    with pytest.raises(UsageError, match="CommandDataSetType"):
        CStoreRQ(**FULL[CStoreRQ], has_dataset=False)
    with pytest.raises(UsageError, match="CommandDataSetType"):
        CEchoRSP(**FULL[CEchoRSP], has_dataset=True)
    store = CStoreRQ(**FULL[CStoreRQ]).command_set()
    store[cs.COMMAND_DATA_SET_TYPE] = cs.NO_DATASET
    with pytest.raises(ProtocolError) as info:
        decode_message(cs.encode(store))
    assert info.value.where == "C-STORE-RQ CommandDataSetType"
    echo = CEchoRQ(message_id=3).command_set()
    echo[cs.COMMAND_DATA_SET_TYPE] = 0x0102
    with pytest.raises(ProtocolError, match="cannot have a data set"):
        decode_message(cs.encode(echo))


def test_any_value_but_0101_means_a_data_set() -> None:
    elements = CFindRSP(**FULL[CFindRSP]).command_set()
    for value in (0x0000, 0x0001, 0x0102, 0xFFFF):
        elements[cs.COMMAND_DATA_SET_TYPE] = value
        assert decode_message(cs.encode(elements)).has_dataset
    elements[cs.COMMAND_DATA_SET_TYPE] = cs.NO_DATASET
    assert not decode_message(cs.encode(elements)).has_dataset


def test_bad_values() -> None:
    with pytest.raises(UsageError, match="Priority"):
        CFindRQ(**FULL[CFindRQ], priority=3)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="MessageID"):
        CEchoRQ(message_id=0x10000)
    with pytest.raises(UsageError, match="Status"):
        CStoreRSP(message_id_being_responded_to=1, status=-1)
    high = CFindRQ(**FULL[CFindRQ], priority=1)  # type: ignore[arg-type]
    assert high.priority is Priority.HIGH
    elements = CFindRQ(**FULL[CFindRQ]).command_set()
    elements[cs.PRIORITY] = 7
    with pytest.raises(ProtocolError) as info:
        decode_message(cs.encode(elements))
    assert info.value.where == "C-FIND-RQ Priority"
    with pytest.raises(UsageError, match="C-MOVE-RQ"):
        CMoveRQ(**{**FULL[CMoveRQ], "move_destination": "X" * 17}).to_command()


def test_extra_elements() -> None:
    elements = CEchoRQ(message_id=5).command_set()
    elements[cs.REQUESTED_SOP_CLASS_UID] = "1.2.3"  # known, but not a C-ECHO field
    elements[0x4000] = b"dialog"  # retired
    encoded = cs.encode(elements)
    message = decode_message(encoded)
    assert message.extra == ((cs.REQUESTED_SOP_CLASS_UID, b"1.2.3\0"), (0x4000, b"dialog"))
    assert message.to_command() == encoded
    with pytest.raises(UsageError, match="field of the message"):
        CEchoRQ(message_id=1, extra=((cs.MESSAGE_ID, b"\0\0"),))


def test_unknown_or_missing_command_field() -> None:
    with pytest.raises(ProtocolError, match="0x0100 is not a DIMSE-C"):
        decode_message(cs.encode({cs.COMMAND_FIELD: 0x0100, cs.COMMAND_DATA_SET_TYPE: 0x0101}))
    with pytest.raises(ProtocolError) as info:
        decode_message(cs.encode({cs.MESSAGE_ID: 1}))
    assert "CommandField" in info.value.where
    assert message_type(0x0001) is CStoreRQ and message_type(0x0100) is None


def test_response_from_request() -> None:
    request = CStoreRQ(
        message_id=9, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid="1.9"
    )
    response = request.response(0x0000)
    assert response == CStoreRSP(
        message_id_being_responded_to=9,
        status=0,
        affected_sop_class_uid=CT_IMAGE_STORAGE,
        affected_sop_instance_uid="1.9",
    )
    find = CFindRQ(**FULL[CFindRQ]).response(0xFF00, has_dataset=True)
    assert isinstance(find, CFindRSP) and find.has_dataset


# ------------------------------------------------------------------ statuses


def test_status_entry_uses_generated_tables() -> None:
    rsp = CStoreRSP(message_id_being_responded_to=1, status=0xB000)
    expected = statuses.lookup(0xB000, service_class="storage", dimse="C-STORE")
    assert expected is not None
    assert rsp.status_entry("storage") == expected
    assert rsp.status_entry(StorageServiceClass) == expected
    assert rsp.status_entry(StorageServiceClass.statuses) == expected
    assert rsp.category is expected.category is Category.WARNING
    ranged = CStoreRSP(message_id_being_responded_to=1, status=0xA7F0)
    entry = ranged.status_entry(StorageServiceClass)
    assert entry is not None and 0xA7F0 in entry and entry.is_range


def test_status_entry_falls_back_to_ps37_categories() -> None:
    echo = CEchoRSP(message_id_being_responded_to=1, status=0x0000)
    assert echo.category is Category.SUCCESS
    entry = echo.status_entry(StorageServiceClass)  # no C-ECHO table there
    assert entry is not None and entry.category is Category.SUCCESS
    assert CEchoRSP(message_id_being_responded_to=1, status=0x1234).status_entry() is None
    assert CEchoRSP(message_id_being_responded_to=1, status=0x1234).category is None
    for code in (0xFF00, 0xFF01):
        rsp = CFindRSP(message_id_being_responded_to=1, status=code)
        assert rsp.is_pending and rsp.category is Category.PENDING
    cancel = CMoveRSP(message_id_being_responded_to=1, status=0xFE00)
    assert cancel.category is Category.CANCEL and not cancel.is_pending


def test_pynetdicom_interop() -> None:
    """pynetdicom (a peer implementation) writes the same bytes and reads ours."""
    from pynetdicom.dimse_messages import C_STORE_RQ
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.dsutils import decode, encode

    primitive = C_STORE()
    primitive.MessageID = 7
    primitive.AffectedSOPClassUID = CT_IMAGE_STORAGE
    primitive.AffectedSOPInstanceUID = "1.2.3.4.5"
    primitive.Priority = 2
    primitive.MoveOriginatorApplicationEntityTitle = "STORESCU1"
    primitive.MoveOriginatorMessageID = 3
    primitive.DataSet = io.BytesIO(b"\x08\x00\x18\x00\x00\x00\x00\x00")
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    assert encode(message.command_set, True, True) == STORE_RQ

    ours = CGetRSP(
        message_id_being_responded_to=4,
        status=0xFF00,
        number_of_remaining_suboperations=10,
        number_of_completed_suboperations=2,
        error_comment="busy",
    )
    theirs = decode(io.BytesIO(ours.to_command()), True, True)
    assert theirs.CommandField == 0x8010 and theirs.MessageIDBeingRespondedTo == 4
    assert theirs.Status == 0xFF00 and theirs.NumberOfRemainingSuboperations == 10
    assert theirs.ErrorComment == "busy" and theirs.CommandDataSetType == 0x0101


def test_lenient_peer_values_survive_as_extra() -> None:
    elements = CEchoRQ(message_id=5).command_set()
    elements[cs.REQUESTED_SOP_CLASS_UID] = b"1." * 40  # 80 bytes: longer than a UID may be
    elements[cs.ERROR_COMMENT] = b"caf\xe9"  # not ASCII
    message = decode_message(cs.encode(elements))
    assert dict(message.extra) == {
        cs.REQUESTED_SOP_CLASS_UID: b"1." * 40,
        cs.ERROR_COMMENT: b"caf?",
    }
    assert decode_message(message.to_command()) == message


KNOWN_ELEMENTS = sorted(set(cs.ELEMENTS) - {cs.COMMAND_GROUP_LENGTH})


@given(
    st.sampled_from([int(t.command_field) for t in ALL_TYPES]),
    st.sampled_from([0x0101, 0x0001]),
    st.dictionaries(
        st.sampled_from(KNOWN_ELEMENTS),
        st.binary(max_size=80).map(lambda b: b + b"\0" * (len(b) & 1)),
        max_size=10,
    ),
)
def test_arbitrary_element_values_only_protocol_errors(
    field: int, dataset_type: int, raw: dict[int, bytes]
) -> None:
    elements: cs.CommandSet = dict(raw)
    elements[cs.COMMAND_FIELD] = field
    elements[cs.COMMAND_DATA_SET_TYPE] = dataset_type
    with contextlib.suppress(ProtocolError):
        message = decode_message(cs.encode(elements))
        assert message.command_field == field
