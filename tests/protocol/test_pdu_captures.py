"""The golden PDU captures agree with their manifest and cover the whole PDU vocabulary.

The files in tests/golden/pdus come from real peers (tools/capture_pdus.py). These checks
use only the 6-byte PDU header and the manifest; decoding is tested elsewhere.
"""

from __future__ import annotations

import hashlib
import struct
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tools.capture_pdus import describe
from tools.pdu_proxy import FramingError, PduSplitter

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "pdus"
PDU_TYPES = set(range(0x01, 0x08))
ITEM_TYPES = {
    0x10, 0x20, 0x21, 0x30, 0x40, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
}  # fmt: skip
MAX_FILE_SIZE = 64 * 1024


def _entries() -> list[dict[str, Any]]:
    with (GOLDEN / "MANIFEST.toml").open("rb") as fh:
        entries: list[dict[str, Any]] = tomllib.load(fh)["pdu"]
    return entries


ENTRIES = _entries()


def test_manifest_lists_exactly_the_files() -> None:
    names = [entry["file"] for entry in ENTRIES]
    assert len(names) == len(set(names)), "a file is listed twice"
    assert set(names) == {path.name for path in GOLDEN.glob("*.bin")}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_file_matches_its_entry(entry: dict[str, Any]) -> None:
    data = (GOLDEN / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["size"] < MAX_FILE_SIZE
    assert len(data) >= 6
    assert data[0] == entry["pdu_type"]
    (length,) = struct.unpack_from(">I", data, 2)
    assert length == len(data) - 6, "not exactly one whole PDU"
    assert set(describe(data).item_types) == set(entry["item_types"])
    for field in ("sender", "receiver", "scenario", "direction"):
        assert entry[field], f"{field} is empty"


def test_enough_pdus_of_every_type_and_item() -> None:
    assert len(ENTRIES) >= 30
    assert {entry["pdu_type"] for entry in ENTRIES} == PDU_TYPES
    covered = {item for entry in ENTRIES for item in entry["item_types"]}
    assert covered >= ITEM_TYPES, f"missing items: {sorted(ITEM_TYPES - covered)}"


def test_every_pdu_type_from_both_toolkits() -> None:
    senders: dict[int, set[str]] = {}
    for entry in ENTRIES:
        senders.setdefault(entry["pdu_type"], set()).add(entry["sender"].split()[0])
    for pdu_type in sorted(PDU_TYPES):
        assert senders.get(pdu_type) == {"dcmtk", "pynetdicom"}, f"PDU type {pdu_type}"


def test_splitter_recovers_the_pdus_from_any_chunking() -> None:
    pdus = [(GOLDEN / entry["file"]).read_bytes() for entry in ENTRIES[:40]]
    stream = b"".join(pdus)
    for chunk in (1, 5, 6, 7, 4096, len(stream)):
        splitter = PduSplitter()
        out: list[bytes] = []
        for start in range(0, len(stream), chunk):
            out += splitter.feed(stream[start : start + chunk])
        assert out == pdus
        assert splitter.pending == 0


def test_splitter_refuses_oversized_length() -> None:
    with pytest.raises(FramingError, match="limit"):
        PduSplitter(max_pdu_length=100).feed(b"\x04\x00\x00\x00\x01\x00")
