"""The group 0000 codec: byte-exact encodings, pydicom as an oracle, peer faults."""

from __future__ import annotations

import contextlib
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.datadict import dictionary_keyword, dictionary_VR
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.tag import Tag

from dimse import command_set as cs
from dimse.errors import ProtocolError, UsageError

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

# C-ECHO-RQ (PS3.7 Table 9.3-12), written out element by element: tag (group, element)
# as two little-endian US, a 4-byte little-endian length, then the value.
ECHO_RQ = bytes.fromhex(
    "0000 0000 04000000 38000000"  # (0000,0000) UL group length = 56
    "0000 0200 12000000" + b"1.2.840.10008.1.1\0".hex() +  # (0000,0002) UI, NUL pad
    "0000 0001 02000000 3000"  # (0000,0100) US C-ECHO-RQ
    "0000 1001 02000000 0100"  # (0000,0110) US Message ID 1
    "0000 0008 02000000 0101"  # (0000,0800) US 0x0101: no data set
)  # fmt: skip

# C-STORE-RQ (PS3.7 Table 9.3-1) with both user-option move originator fields.
STORE_RQ = bytes.fromhex(
    "0000 0000 04000000 78000000"  # group length = 120
    "0000 0200 1a000000" + (CT_IMAGE_STORAGE + "\0").encode().hex() +  # 25 chars + NUL
    "0000 0001 02000000 0100"  # C-STORE-RQ
    "0000 1001 02000000 0700"  # Message ID 7
    "0000 0007 02000000 0200"  # Priority LOW
    "0000 0008 02000000 0100"  # data set present
    "0000 0010 0a000000" + b"1.2.3.4.5\0".hex() +  # Affected SOP Instance UID
    "0000 3010 0a000000" + b"STORESCU1 ".hex() +  # Move Originator AE, space pad
    "0000 3110 02000000 0300"  # Move Originator Message ID 3
)  # fmt: skip

STORE_ELEMENTS: cs.CommandSet = {
    cs.AFFECTED_SOP_CLASS_UID: CT_IMAGE_STORAGE,
    cs.COMMAND_FIELD: cs.C_STORE_RQ,
    cs.MESSAGE_ID: 7,
    cs.PRIORITY: 2,
    cs.COMMAND_DATA_SET_TYPE: cs.DATASET_PRESENT,
    cs.AFFECTED_SOP_INSTANCE_UID: "1.2.3.4.5",
    cs.MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE: "STORESCU1",
    cs.MOVE_ORIGINATOR_MESSAGE_ID: 3,
}


def pydicom_encoding(elements: cs.CommandSet) -> bytes:
    """The oracle: pydicom's implicit VR little endian writer on the same elements."""
    body = Dataset()
    for element, value in elements.items():
        spec = cs.ELEMENTS[element]
        body.add_new(Tag(0, element), spec.vr, list(value) if isinstance(value, tuple) else value)
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = True
    write_dataset(fp, body)
    payload = fp.getvalue()
    head = Dataset()
    head.CommandGroupLength = len(payload)
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = True
    write_dataset(fp, head)
    return fp.getvalue() + payload


def test_echo_rq_bytes_by_hand() -> None:
    elements: cs.CommandSet = {
        cs.AFFECTED_SOP_CLASS_UID: "1.2.840.10008.1.1",
        cs.COMMAND_FIELD: cs.C_ECHO_RQ,
        cs.MESSAGE_ID: 1,
        cs.COMMAND_DATA_SET_TYPE: cs.NO_DATASET,
    }
    assert cs.encode(elements) == ECHO_RQ
    assert pydicom_encoding(elements) == ECHO_RQ
    assert cs.decode(ECHO_RQ) == elements


def test_store_rq_bytes_by_hand() -> None:
    assert len(STORE_RQ) == 12 + 120
    assert cs.encode(STORE_ELEMENTS) == STORE_RQ
    assert pydicom_encoding(STORE_ELEMENTS) == STORE_RQ
    assert cs.decode(STORE_RQ) == STORE_ELEMENTS
    assert cs.decode(memoryview(STORE_RQ)) == STORE_ELEMENTS
    assert cs.decode(bytearray(STORE_RQ)) == STORE_ELEMENTS


def test_elements_sorted_whatever_the_mapping_order() -> None:
    reordered = dict(reversed(list(STORE_ELEMENTS.items())))
    assert cs.encode(reordered) == STORE_RQ


@pytest.mark.parametrize("spec", list(cs.ELEMENTS.values()), ids=lambda s: s.keyword)
def test_tag_table_matches_pydicom_dictionary(spec: cs.ElementSpec) -> None:
    tag = Tag(0, spec.element)
    assert dictionary_keyword(tag) == spec.keyword
    assert dictionary_VR(tag) == spec.vr


def test_command_field_constants() -> None:
    assert {f.name: f.value for f in cs.CommandField} == {
        "C_STORE_RQ": 0x0001, "C_STORE_RSP": 0x8001, "C_GET_RQ": 0x0010,
        "C_GET_RSP": 0x8010, "C_FIND_RQ": 0x0020, "C_FIND_RSP": 0x8020,
        "C_MOVE_RQ": 0x0021, "C_MOVE_RSP": 0x8021, "C_ECHO_RQ": 0x0030,
        "C_ECHO_RSP": 0x8030, "C_CANCEL_RQ": 0x0FFF,
    }  # fmt: skip
    assert int(cs.C_CANCEL_RQ) == 0x0FFF and cs.NO_DATASET == 0x0101


def test_unknown_elements_kept_raw() -> None:
    elements: cs.CommandSet = {
        0x0001: b"\x10\x00\x00\x00",  # retired CommandLengthToEnd
        cs.COMMAND_FIELD: cs.C_ECHO_RQ,
        0x4000: b"hello ",  # retired DialogReceiver (LT)
        0x1005: b"\x08\x00\x18\x00",  # N-service AttributeIdentifierList
    }
    encoded = cs.encode(elements)
    assert cs.decode(encoded) == elements
    assert cs.encode(cs.decode(encoded)) == encoded


def test_strings_padded_and_unpadded() -> None:
    encoded = cs.encode({cs.MOVE_DESTINATION: "AE", cs.ERROR_COMMENT: "odd", 0x0003: "1.2.3"})
    assert b"odd " in encoded and b"1.2.3\0" in encoded
    assert cs.decode(encoded) == {
        cs.MOVE_DESTINATION: "AE",
        cs.ERROR_COMMENT: "odd",
        0x0003: "1.2.3",
    }


def test_offending_element_at() -> None:
    elements: cs.CommandSet = {cs.OFFENDING_ELEMENT: (0x00100010, 0x7FE00010)}
    encoded = cs.encode(elements)
    assert encoded.endswith(bytes.fromhex("1000 1000 e07f 1000"))
    assert pydicom_encoding(elements) == encoded
    assert cs.decode(encoded) == elements


def test_peer_padding_variants_are_tolerated() -> None:
    raw = bytearray(cs.encode({cs.AFFECTED_SOP_CLASS_UID: "1.2.3.4", cs.MOVE_DESTINATION: "AB"}))
    raw[raw.index(b"1.2.3.4") : raw.index(b"1.2.3.4") + 8] = b"1.2.345 "  # space padded UID
    raw[raw.index(b"AB") : raw.index(b"AB") + 2] = b" B"  # leading space in AE
    decoded = cs.decode(bytes(raw))
    assert decoded == {cs.AFFECTED_SOP_CLASS_UID: "1.2.345", cs.MOVE_DESTINATION: "B"}


@pytest.mark.parametrize(
    ("elements", "fragment"),
    [
        ({cs.MESSAGE_ID: 0x10000}, "out of range"),
        ({cs.MESSAGE_ID: -1}, "out of range"),
        ({cs.MESSAGE_ID: True}, "expected an int"),
        ({cs.MESSAGE_ID: "1"}, "expected an int"),
        ({cs.AFFECTED_SOP_CLASS_UID: "1." * 40}, "more than the 64"),
        ({cs.AFFECTED_SOP_CLASS_UID: "1.2\u00e9"}, "not ASCII"),
        ({cs.AFFECTED_SOP_CLASS_UID: 5}, "expected a str"),
        ({cs.MOVE_DESTINATION: "A" * 17}, "more than the 16"),
        ({cs.OFFENDING_ELEMENT: (1 << 32,)}, "invalid tag"),
        ({0x4000: b"odd"}, "odd length"),
        ({0x4000: "text"}, "raw bytes"),
        ({cs.COMMAND_GROUP_LENGTH: 4}, "computed"),
        ({0x10000: b""}, "not in 0x0001..0xFFFF"),
    ],
)
def test_encode_rejects_bad_values(elements: cs.CommandSet, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        cs.encode(elements)


def _element(element: int, value: bytes) -> bytes:
    return b"\0\0" + element.to_bytes(2, "little") + len(value).to_bytes(4, "little") + value


def _group(*parts: bytes) -> bytes:
    body = b"".join(parts)
    return _element(0, len(body).to_bytes(4, "little")) + body


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"", "CommandGroupLength at byte 0"),
        (b"\x00" * 11, "CommandGroupLength at byte 0"),
        (_element(2, b"1.2\0") + _element(0x100, b"\x01\x00"), "CommandGroupLength at byte 0"),
        (_element(0, b"\x00\x00"), "CommandGroupLength at byte 0"),
        (_group(_element(0x110, b"\x01\x00"))[:-1], "CommandGroupLength at byte 8"),
        (_group(_element(0x110, b"\x01\x00")) + b"\x00\x00", "CommandGroupLength at byte 8"),
        (_group(_element(0x110, b"\x01\x00\x00\x00")), "(0000,0110) MessageID at byte 12"),
        (_group(_element(0x110, b"\x01")), "(0000,0110) MessageID at byte 12"),
        (_group(_element(0x120, b"\x01\x00"), _element(0x120, b"\x01\x00")),
         "(0000,0120) MessageIDBeingRespondedTo at byte 22"),
        (_group(_element(0x100, b"\x01\x00"), _element(0, b"\0\0\0\0")), "(0000,0000)"),
        (_group(b"\x08\x00\x05\x00\0\0\0\0"),
         "(0008,0005) at byte 12"),
        (_group(_element(0x2, b"1.2\xff")), "(0000,0002) AffectedSOPClassUID"),
        (_group(_element(0x600, b"\xe9E")), "(0000,0600) MoveDestination"),
        (_group(_element(0x901, b"\x10\x00")), "(0000,0901) OffendingElement"),
        (_group(b"\x00\x00\x02\x00\xff\xff\xff\xff"), "(0000,0002) AffectedSOPClassUID"),
        (_group(b"\x00\x00\x02\x00\x10\x00\x00\x00abc"), "(0000,0002) AffectedSOPClassUID"),
        (_group(b"\x00\x00\x02\x00\x10"), "element header at byte 12"),
    ],
)  # fmt: skip
def test_decode_rejects_malformed(data: bytes, where: str) -> None:
    with pytest.raises(ProtocolError) as info:
        cs.decode(data)
    assert where in info.value.where
    assert info.value.where.startswith("command set")


def test_error_comment_non_ascii_is_replaced_not_fatal() -> None:
    decoded = cs.decode(_group(_element(0x902, b"caf\xe9")))
    assert decoded == {cs.ERROR_COMMENT: "caf\ufffd"}


# ----------------------------------------------------------------- property tests

UIDS = st.from_regex(r"[12](\.(0|[1-9][0-9]{0,8})){1,7}", fullmatch=True)
AE_TITLES = st.text(string.ascii_uppercase + string.digits + "_-", min_size=1, max_size=16)
LONG_STRINGS = st.text(
    "".join(c for c in string.printable if c not in "\\\t\n\r\x0b\x0c"), max_size=64
).filter(lambda s: s == s.strip(" "))
TAGS = st.tuples(st.integers(0, 0xFFFFFFFF)).map(tuple) | st.lists(
    st.integers(0, 0xFFFFFFFF), max_size=4
).map(tuple)


def _value(spec: cs.ElementSpec) -> st.SearchStrategy[Any]:
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "US": st.integers(0, 0xFFFF),
        "UI": UIDS,
        "AE": AE_TITLES,
        "LO": LONG_STRINGS,
        "AT": TAGS,
    }
    return strategies[spec.vr]


KNOWN = st.sampled_from([s for s in cs.ELEMENTS.values() if s.vr != "UL"])
UNKNOWN_ELEMENTS = st.integers(1, 0xFFFF).filter(lambda e: e not in cs.ELEMENTS)


@st.composite
def command_sets(draw: st.DrawFn, unknown: bool = True) -> cs.CommandSet:
    out: cs.CommandSet = {}
    for spec in draw(st.lists(KNOWN, max_size=12, unique_by=lambda s: s.element)):
        out[spec.element] = draw(_value(spec))
    if unknown:
        for element in draw(st.lists(UNKNOWN_ELEMENTS, max_size=3, unique=True)):
            out[element] = draw(st.binary(max_size=20).map(lambda b: b + b"\0" * (len(b) & 1)))
    return out


@given(command_sets())
def test_round_trip(elements: cs.CommandSet) -> None:
    encoded = cs.encode(elements)
    assert cs.decode(encoded) == elements
    assert cs.encode(cs.decode(encoded)) == encoded


@given(command_sets(unknown=False))
def test_pydicom_oracle(elements: cs.CommandSet) -> None:
    assert cs.encode(elements) == pydicom_encoding(elements)


@given(st.binary(max_size=200))
def test_random_bytes_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        cs.decode(data)


@given(command_sets(), st.data())
def test_corrupted_encodings_only_protocol_errors(
    elements: cs.CommandSet, data: st.DataObject
) -> None:
    raw = bytearray(cs.encode(elements))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(ProtocolError):
        cs.decode(bytes(raw[:cut]))
