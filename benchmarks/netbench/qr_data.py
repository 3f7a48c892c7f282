"""The Query/Retrieve data set: one study, two series, generated once and cached.

Series A holds the Q1 matches (an IMAGE-level C-FIND under it returns every instance);
series B holds the instances that Q2 (C-GET) and Q3 (C-MOVE) retrieve at SERIES level.
The single-instance runs (t_1) of Q2/Q3 retrieve one instance of series A at IMAGE
level, so their files never mix with series B's. Every SCP gets the whole study.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .data import Corpus, _write_instance

# 64 x 128 x 16 bit = 16 KiB of pixel data, ~16.5 KiB per file: small instances, so
# the figures are about per-instance cost (query, read, sub-operation), not bandwidth.
QR_SHAPE = (64, 128)


@dataclass(frozen=True)
class QrCorpus:
    directory: Path  # the study (subdirectories A and B): what every SCP is loaded with
    study_uid: str
    find_series: str
    retrieve_series: str
    find: Corpus  # series A
    retrieve: Corpus  # series B

    @property
    def count(self) -> int:
        return len(self.find.files) + len(self.retrieve.files)


def _load(directory: Path, recorded: dict[str, object], series: str) -> Corpus:
    files = recorded["files"]
    uids = recorded["uids"]
    sizes = recorded["sizes"]
    assert isinstance(files, dict) and isinstance(uids, dict) and isinstance(sizes, dict)
    paths = tuple(directory / series / f for f in files[series])
    for path, size in zip(paths, sizes[series], strict=True):
        if path.stat().st_size != size:
            raise ValueError(f"{path} changed")
    return Corpus(directory / series, paths, tuple(uids[series]), sum(sizes[series]))


def ensure_qr_corpus(root: Path, n_find: int, n_retrieve: int) -> QrCorpus:
    """Series A of ``n_find`` and series B of ``n_retrieve`` instances; reused if cached."""
    from pydicom.uid import generate_uid

    rows, cols = QR_SHAPE
    name = f"qr-a{n_find}-b{n_retrieve}-{rows}x{cols}"
    directory = root / name
    manifest = root / f"{name}.json"
    try:
        recorded = json.loads(manifest.read_text())
        if recorded.get("version") == 1:
            return QrCorpus(
                directory,
                recorded["study"],
                recorded["series"]["A"],
                recorded["series"]["B"],
                _load(directory, recorded, "A"),
                _load(directory, recorded, "B"),
            )
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        pass
    shutil.rmtree(directory, ignore_errors=True)
    print(
        f"  generating {n_find} + {n_retrieve} x {rows}x{cols} CT into {directory}",
        file=sys.stderr,
    )
    study = generate_uid(prefix=None)
    series = {"A": generate_uid(prefix=None), "B": generate_uid(prefix=None)}
    files: dict[str, list[str]] = {}
    uids: dict[str, list[str]] = {}
    sizes: dict[str, list[int]] = {}
    for key, n in (("A", n_find), ("B", n_retrieve)):
        (directory / key).mkdir(parents=True)
        files[key], uids[key], sizes[key] = [], [], []
        for i in range(n):
            uid = generate_uid(prefix=None)
            path = directory / key / f"IM{i:06d}.dcm"
            _write_instance(path, uid, i + 1, rows, cols, name, (study, series[key]))
            files[key].append(path.name)
            uids[key].append(uid)
            sizes[key].append(path.stat().st_size)
    recorded = {
        "version": 1,
        "study": study,
        "series": series,
        "files": files,
        "uids": uids,
        "sizes": sizes,
    }
    manifest.write_text(json.dumps(recorded))
    return ensure_qr_corpus(root, n_find, n_retrieve)
