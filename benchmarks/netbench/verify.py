"""Did the SCP receive what was sent? File count, SOP Instance UIDs, sampled bytes.

A run counts only if every instance arrived and a sample of them has a data set (after
the File Meta group, which each SCP writes its own way) identical to the sent file's.
"""

from __future__ import annotations

import random
import re
import struct
from pathlib import Path

from .data import Corpus
from .settings import MiB

_LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}


def dataset_offset(path: Path) -> int:
    """Where the data set starts in a PS3.10 file: after preamble, DICM and group 2."""
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    if head[128:132] != b"DICM":
        raise ValueError(f"{path.name}: no DICM prefix")
    pos = 132
    while pos + 8 <= len(head):
        group, _element = struct.unpack_from("<HH", head, pos)
        if group != 0x0002:
            return pos
        vr = head[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            pos += 12 + struct.unpack_from("<I", head, pos + 8)[0]
        else:
            pos += 8 + struct.unpack_from("<H", head, pos + 6)[0]
    raise ValueError(f"{path.name}: File Meta group runs past 64 KiB")


def same_dataset(sent: Path, received: Path) -> bool:
    a_off, b_off = dataset_offset(sent), dataset_offset(received)
    if sent.stat().st_size - a_off != received.stat().st_size - b_off:
        return False
    with open(sent, "rb") as a, open(received, "rb") as b:
        a.seek(a_off)
        b.seek(b_off)
        while True:
            chunk = a.read(4 * MiB)
            if chunk != b.read(4 * MiB):
                return False
            if not chunk:
                return True


def transfer_syntax(path: Path) -> str:
    from pydicom import dcmread

    meta = dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).file_meta
    return str(meta.get("TransferSyntaxUID", ""))


def same_content(sent: Path, received: Path) -> bool:
    """The data sets decode to equal elements (for an SCP that changed the encoding)."""
    from pydicom import dcmread

    a, b = dcmread(sent), dcmread(received)
    tags = list(a.keys())
    return tags == list(b.keys()) and all(a[tag].value == b[tag].value for tag in tags)


def _uid_from_name(name: str) -> str:
    """dcmtk and pynetdicom name files ``CT.<uid>``; dimse ``<uid>`` (maybe + ``.dcm``)."""
    name = re.sub(r"^[A-Za-z]+\.", "", name)
    return name.removesuffix(".dcm")


def verify_received(
    received: Path, corpus: Corpus, samples: int, transcoded: list[str] | None = None
) -> str | None:
    """None when every instance arrived and the sampled ones are identical; else why not.

    With a ``transcoded`` list, a sample that arrived in another transfer syntax counts
    if its data set decodes to the same elements; the syntax is added to the list.
    """
    files = [p for p in received.rglob("*") if p.is_file()]
    by_uid = {_uid_from_name(p.name): p for p in files}
    if len(files) != len(corpus.files):
        return f"received {len(files)} files, sent {len(corpus.files)}"
    missing = [u for u in corpus.uids if u not in by_uid]
    if missing:
        return f"{len(missing)} SOP Instance UIDs missing (e.g. {missing[0]})"
    n = len(corpus.files)
    picks = sorted({0, n // 2, n - 1, *random.Random(n).sample(range(n), min(n, samples))})
    for i in picks[: max(samples, 1)]:
        sent, got = corpus.files[i], by_uid[corpus.uids[i]]
        if same_dataset(sent, got):
            continue
        syntax = transfer_syntax(got)
        if transcoded is not None and syntax != transfer_syntax(sent) and same_content(sent, got):
            transcoded.append(syntax)
            continue
        return f"data set of {sent.name} differs after the File Meta group"
    return None
