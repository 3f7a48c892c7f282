"""Real PDUs (tests/golden/pdus/*.bin, captured from dcmtk and pynetdicom) decode and
re-encode to identical bytes, frame in any chunking, and seed the mutation fuzzer.

Fewer than 10 captures is a failure, not a skip: without them the codec is only
checked against itself.
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from _pdu_fuzz import check_decode, check_framer, mutate

from dimse.framer import Framer
from dimse.pdu import (
    PDU,
    AAssociateAC,
    AAssociateRQ,
    PresentationContextAC,
    decode,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "pdus"
CAPTURES = sorted(GOLDEN.glob("*.bin")) if GOLDEN.is_dir() else []
MINIMUM = 10


def _manifest() -> dict[str, dict[str, Any]]:
    path = GOLDEN / "MANIFEST.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        entries = tomllib.load(fh).get("pdu", [])
    return {entry["file"]: entry for entry in entries if "file" in entry}


MANIFEST = _manifest()


def item_types(pdu: PDU) -> set[int]:
    """Every item and sub-item type the decoded PDU holds (nested ones included)."""
    if not isinstance(pdu, AAssociateRQ | AAssociateAC):
        return set()
    types = {0x10, 0x50}
    for pc in pdu.presentation_contexts:
        types.add(pc.item_type)
        if not isinstance(pc, PresentationContextAC):
            types |= {0x30, 0x40}
        elif pc._order != ():  # a rejected context can arrive without its sub-item
            types.add(0x40)
        types |= {u.item_type for u in pc.unknown_items}
    types |= {item.item_type for item in pdu.user_information.items}
    types |= {u.item_type for u in pdu.unknown_items}
    return types


def test_enough_captures() -> None:
    assert len(CAPTURES) >= MINIMUM, (
        f"{GOLDEN} holds {len(CAPTURES)} captures; at least {MINIMUM} real PDUs are needed"
    )


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_capture_round_trips(path: Path) -> None:
    data = path.read_bytes()
    pdu = decode(data)
    assert pdu.encode() == data
    assert pdu == decode(pdu.encode())
    assert pdu.describe()
    entry = MANIFEST.get(path.name)
    if entry is not None:
        assert pdu.pdu_type == entry["pdu_type"]
        assert item_types(pdu) == set(entry["item_types"])


def test_captures_have_no_unknown_items() -> None:
    # Real peers send only items PS3.7/PS3.8 define: nothing may fall back to UnknownItem.
    for path in CAPTURES:
        pdu = decode(path.read_bytes())
        if isinstance(pdu, AAssociateRQ | AAssociateAC):
            assert not pdu.unknown_items, path.name
            assert not pdu.user_information.unknown_items, path.name
            assert all(not pc.unknown_items for pc in pdu.presentation_contexts), path.name


def test_captures_through_the_framer() -> None:
    datas = [path.read_bytes() for path in CAPTURES]
    stream = b"".join(datas)
    limit = max((len(d) for d in datas), default=6)
    rng = random.Random(3)
    for _ in range(5):
        framer = Framer(limit, max_association_pdu_length=limit)
        out: list[PDU] = []
        pos = 0
        while pos < len(stream):
            size = rng.choice((1, 3, 100, 1500, 16384, 65536))
            out += framer.feed(stream[pos : pos + size])
            pos += size
        assert [p.encode() for p in out] == datas
        assert framer.pending == 0


def test_captures_as_fuzz_seeds() -> None:
    rng = random.Random(4)
    for path in CAPTURES:
        data = path.read_bytes()
        for _ in range(40):
            check_decode(mutate(rng, data))
        for _ in range(3):
            check_framer(rng, mutate(rng, data), limit=1 << 16)
