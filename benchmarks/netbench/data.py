"""Test instances: generated once with pydicom and cached, with a manifest per set.

``ensure_corpus`` gives every tool and every run the same files (and SOP Instance UIDs);
a later invocation reuses a set whose manifest still matches the files on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .settings import CT_IMAGE_STORAGE


@dataclass(frozen=True)
class Corpus:
    directory: Path
    files: tuple[Path, ...]
    uids: tuple[str, ...]
    total_bytes: int


def _write_instance(
    path: Path,
    uid: str,
    number: int,
    rows: int,
    cols: int,
    tag: str,
    study_series: tuple[str, str] | None = None,
) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(CT_IMAGE_STORAGE)
    meta.MediaStorageSOPInstanceUID = UID(uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = uid
    if study_series is not None:  # the Q/R set: one study, given series
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_series
    else:  # (prefix=None ignores the entropy: random UIDs, as the W sets always had)
        ds.StudyInstanceUID = generate_uid(prefix=None, entropy_srcs=["netbench-study", tag])
        ds.SeriesInstanceUID = generate_uid(prefix=None, entropy_srcs=["netbench-series", tag])
    ds.Modality = "CT"
    ds.PatientName = "Bench^Network"
    ds.PatientID = "NETBENCH"
    ds.InstanceNumber = number
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = os.urandom(rows * cols * 2)
    ds["PixelData"].VR = "OW"
    ds.save_as(path, enforce_file_format=True)


def ensure_corpus(root: Path, tag: str, n: int, shape: tuple[int, int]) -> Corpus:
    """``n`` instances under ``root``; reused when a matching manifest is there."""
    from pydicom.uid import generate_uid

    rows, cols = shape
    name = f"{tag}-n{n}-{rows}x{cols}"
    directory = root / name
    manifest = root / f"{name}.json"
    try:
        recorded = json.loads(manifest.read_text())
        files = tuple(directory / f for f in recorded["files"])
        if recorded.get("version") == 1 and all(
            p.stat().st_size == s for p, s in zip(files, recorded["sizes"], strict=True)
        ):
            return Corpus(directory, files, tuple(recorded["uids"]), sum(recorded["sizes"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    print(f"  generating {n} x {rows}x{cols} CT into {directory}", file=sys.stderr)
    uids: list[str] = []
    paths: list[Path] = []
    for i in range(n):
        uid = generate_uid(prefix=None, entropy_srcs=["netbench", name, str(i)])
        path = directory / f"IM{i:06d}.dcm"
        _write_instance(path, uid, i + 1, rows, cols, name)
        uids.append(uid)
        paths.append(path)
    sizes = [p.stat().st_size for p in paths]
    manifest.write_text(
        json.dumps({"version": 1, "files": [p.name for p in paths], "uids": uids, "sizes": sizes})
    )
    return Corpus(directory, tuple(paths), tuple(uids), sum(sizes))
