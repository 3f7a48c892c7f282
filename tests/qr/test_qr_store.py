"""The instance store: layout, atomic filing, duplicates, removal, and crash recovery
(each crash point simulated, one of them by killing a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from _qr_data import CT, EXPLICIT, identifier, instance, uid
from pydicom.dataset import Dataset

from dimse.datasets import encode_dataset
from dimse.errors import UsageError
from dimse.part10 import read_file_meta
from dimse.qr.errors import StoreError
from dimse.qr.models import STUDY_ROOT, Level
from dimse.qr.sqlite import SQLiteIndex
from dimse.qr.store import INCOMING, QUARANTINE, UNFILED, InstanceStore

IMPLICIT = "1.2.840.10008.1.2"


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "store", tmp_path / "qr.sqlite"


def open_store(paths: tuple[Path, Path]) -> InstanceStore:
    location, db = paths
    return InstanceStore(location, SQLiteIndex(db), fsync=False)


@pytest.fixture
def store(paths: tuple[Path, Path]) -> Iterator[InstanceStore]:
    s = open_store(paths)
    yield s
    s.index.close()


def encoded(ds: Dataset, syntax: str = EXPLICIT) -> bytes:
    return encode_dataset(ds, syntax)


def put(store: InstanceStore, ds: Dataset, syntax: str = EXPLICIT) -> Path:
    location = store.store(encoded(ds, syntax), ds.SOPClassUID, ds.SOPInstanceUID, syntax)
    return Path(location.path)


def answers(store: InstanceStore) -> list[str]:
    query = identifier("IMAGE", SOPInstanceUID="", InstanceNumber="", SeriesInstanceUID="")
    series = [
        ds.SeriesInstanceUID
        for ds in store.index.find(None, identifier("SERIES", SeriesInstanceUID=""), STUDY_ROOT)
    ]
    found = []
    for s in series:
        query.SeriesInstanceUID = s
        found += [ds.to_json() for ds in store.index.find(None, query, STUDY_ROOT)]
    return found


def test_store_files_by_study_and_series(store: InstanceStore) -> None:
    ds = instance(SOPInstanceUID=uid(1, 1, 1))
    data = encoded(ds, IMPLICIT)
    location = store.store(data, CT, uid(1, 1, 1), IMPLICIT, source_ae_title="MODALITY")
    path = Path(location.path)
    assert path == store.root / uid(1) / uid(1, 1) / uid(1, 1, 1)
    meta = read_file_meta(path)
    assert (meta.sop_instance_uid, meta.transfer_syntax_uid, meta.source_ae_title) == (
        uid(1, 1, 1),
        IMPLICIT,
        "MODALITY",
    )
    assert path.read_bytes()[meta.dataset_offset :] == data  # exactly as received
    assert pydicom.dcmread(path).PatientName == "DOE^JOHN"
    assert store.index.get(uid(1, 1, 1)).path == f"{uid(1)}/{uid(1, 1)}/{uid(1, 1, 1)}"  # type: ignore[union-attr]
    (found,) = store.instances_for(
        "IMAGE", identifier("IMAGE", SOPInstanceUID=uid(1, 1, 1)), STUDY_ROOT
    )
    assert found == (CT, uid(1, 1, 1), IMPLICIT, str(path))
    assert list((store.root / INCOMING).iterdir()) == []


def test_streamed_instances_are_adopted(store: InstanceStore) -> None:
    ds = instance(SOPInstanceUID=uid(2, 2, 2))
    data = encoded(ds)
    sink = store.incoming(CT, uid(2, 2, 2), EXPLICIT)
    for start in range(0, len(data), 7):
        sink.write(memoryview(data)[start : start + 7])
    received = sink.close()
    assert received.parent == store.root / INCOMING
    location = store.adopt(received)
    assert Path(location.path).read_bytes().endswith(data)
    assert not received.exists()
    assert store.index.count() == 1


def test_instances_without_study_or_series_are_unfiled(store: InstanceStore) -> None:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.200.3", uid(3)
    assert put(store, ds) == store.root / UNFILED / uid(3)
    assert store.index.count(Level.IMAGE) == 1 and store.index.count(Level.STUDY) == 0


def test_duplicates_replace_and_move(store: InstanceStore) -> None:
    first = put(store, instance(SOPInstanceUID=uid(4), StudyDescription="first"))
    second = put(store, instance(SOPInstanceUID=uid(4), StudyDescription="second"))
    assert first == second and pydicom.dcmread(second).StudyDescription == "second"
    moved = put(
        store, instance(SOPInstanceUID=uid(4), StudyInstanceUID=uid(5), SeriesInstanceUID=uid(5, 1))
    )
    assert moved != first and not first.exists()
    assert not first.parent.exists() and not first.parent.parent.exists()  # pruned
    assert store.index.count() == 1 and store.index.count(Level.STUDY) == 1


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom's on the garbage
def test_bad_instances_are_refused_and_quarantined(store: InstanceStore) -> None:
    with pytest.raises(StoreError, match="not a readable DICOM instance"):
        store.store(b"\x08\x00\x18\x00ZZ\x04\x00abcd", CT, uid(6), EXPLICIT)
    with pytest.raises(StoreError, match="no SOP Instance UID"):  # truncated by the peer
        store.store(b"\x08\x00\x16\x00\xff\xff\xff\x7f", CT, uid(6), EXPLICIT)
    with pytest.raises(StoreError, match="is not the header's"):
        store.store(encoded(instance(SOPInstanceUID=uid(7))), CT, uid(8), EXPLICIT)
    assert store.index.count() == 0
    assert len(list((store.root / QUARANTINE).iterdir())) == 3
    assert list((store.root / INCOMING).iterdir()) == []
    with pytest.raises(UsageError):
        store.incoming(CT, "../../etc/passwd", EXPLICIT)


def test_remove_deletes_file_then_row(store: InstanceStore) -> None:
    path = put(store, instance(SOPInstanceUID=uid(9)))
    assert store.remove(uid(9))
    assert not path.exists() and store.index.count() == 0
    assert not store.remove(uid(9))
    assert list(store.root.iterdir()) == [store.root / INCOMING]


def test_restart_with_the_same_answers(paths: tuple[Path, Path]) -> None:
    store = open_store(paths)
    for n in range(6):
        put(
            store,
            instance(SOPInstanceUID=uid(10, n), SeriesInstanceUID=uid(1, n % 2), InstanceNumber=n),
        )
    before = answers(store)
    store.index.close()
    again = open_store(paths)
    report = again.recover()
    assert not report.changed
    assert answers(again) == before and len(before) == 6
    again.index.close()


# -- recovery, one crash point at a time ------------------------------------------------------


def test_recover_deletes_partial_writes(store: InstanceStore) -> None:
    sink = store.incoming(CT, uid(11), EXPLICIT)
    sink.write(b"half an instance")  # never closed: the process died here
    stray = store.root / uid(1) / f".{uid(12)}.abcdef.part"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    report = store.recover()
    assert len(report.temp_deleted) == 2
    assert list((store.root / INCOMING).iterdir()) == [] and not stray.exists()


def test_recover_adopts_received_files(store: InstanceStore) -> None:
    sink = store.incoming(CT, uid(13), EXPLICIT)
    sink.write(encoded(instance(SOPInstanceUID=uid(13))))
    sink.close()  # received, then the process died before adopting it
    report = store.recover()
    assert report.adopted == [f"{uid(1)}/{uid(1, 1)}/{uid(13)}"]
    assert store.index.get(uid(13)) is not None


def test_recover_indexes_files_whose_commit_was_lost(
    store: InstanceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_: Any) -> None:
        raise SystemExit("power cut between rename and commit")

    monkeypatch.setattr(store.index, "add", crash)
    with pytest.raises(SystemExit):
        put(store, instance(SOPInstanceUID=uid(14)))
    monkeypatch.undo()
    assert store.index.count() == 0
    report = store.recover()
    assert report.indexed == [f"{uid(1)}/{uid(1, 1)}/{uid(14)}"]
    assert store.index.count() == 1


def test_recover_drops_rows_of_missing_files(store: InstanceStore) -> None:
    path = put(store, instance(SOPInstanceUID=uid(15)))
    path.unlink()  # removal died between deleting the file and the row
    report = store.recover()
    assert report.rows_removed == [path.relative_to(store.root).as_posix()]
    assert store.index.count() == 0


def test_recover_reindexes_replaced_files(store: InstanceStore) -> None:
    path = put(store, instance(SOPInstanceUID=uid(16), StudyDescription="old"))
    newer = encoded(instance(SOPInstanceUID=uid(16), StudyDescription="a corrected description"))
    from dimse.part10 import encode_file_meta

    path.write_bytes(encode_file_meta(CT, uid(16), EXPLICIT, "1.2.3") + newer)  # commit lost
    report = store.recover()
    assert report.reindexed == [path.relative_to(store.root).as_posix()]
    (study,) = store.index.find(
        None, identifier("STUDY", StudyInstanceUID="", StudyDescription=""), STUDY_ROOT
    )
    assert study.StudyDescription == "a corrected description"


def test_recover_handles_a_file_replaced_by_another_instance(store: InstanceStore) -> None:
    path = put(store, instance(SOPInstanceUID=uid(21)))
    other = store.root / "spare"
    store.store(encoded(instance(SOPInstanceUID=uid(22))), CT, uid(22), EXPLICIT)
    os.replace(store.root / uid(1) / uid(1, 1) / uid(22), other)
    os.replace(other, path)  # uid(22)'s bytes where uid(21)'s row points
    store.recover()
    assert store.index.get(uid(21)) is None
    assert store.index.get(uid(22)).path == path.relative_to(store.root).as_posix()  # type: ignore[union-attr]
    assert store.index.count() == 1


def test_recover_keeps_the_newest_duplicate(store: InstanceStore) -> None:
    old = put(store, instance(SOPInstanceUID=uid(17)))
    # A move to another study whose commit was lost: the new copy is the newer file.
    new = store.root / uid(6) / uid(6, 1) / uid(17)
    new.parent.mkdir(parents=True)
    new.write_bytes(old.read_bytes())
    os.utime(old, ns=(1, 1))
    report = store.recover()
    assert report.indexed == [new.relative_to(store.root).as_posix()]
    assert report.stale_deleted == [old.relative_to(store.root).as_posix()]
    assert store.index.get(uid(17)).path == new.relative_to(store.root).as_posix()  # type: ignore[union-attr]
    # And an older unindexed copy is the one that goes.
    stale = store.root / uid(7) / uid(7, 1) / uid(17)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(new.read_bytes())
    os.utime(stale, ns=(1, 1))
    report = store.recover()
    assert report.stale_deleted == [stale.relative_to(store.root).as_posix()] and not stale.exists()
    assert new.exists()


def test_recover_quarantines_unreadable_instances_and_leaves_foreign_files(
    store: InstanceStore,
) -> None:
    junk = store.root / uid(1) / uid(1, 1) / uid(18)
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"not DICOM")
    foreign = store.root / "README.txt"
    foreign.write_text("hello")
    indexed = put(store, instance(SOPInstanceUID=uid(19)))
    indexed.write_bytes(b"corrupted later")
    report = store.recover()
    assert sorted(Path(q).name.split(".")[0] for q in report.quarantined) == ["1", "1"]
    assert report.foreign == ["README.txt"] and foreign.exists()
    assert store.index.count() == 0
    assert len(list((store.root / QUARANTINE).iterdir())) == 2


def test_recover_skips_the_index_inside_the_store(tmp_path: Path) -> None:
    store = InstanceStore(tmp_path, SQLiteIndex(tmp_path / "qr.sqlite"), fsync=False)
    put(store, instance(SOPInstanceUID=uid(20)))
    report = store.recover()
    assert not report.changed and report.foreign == []
    store.index.close()


_CRASHING_STORE = textwrap.dedent(
    """
    import os, sys
    from dimse.datasets import encode_dataset
    from dimse.qr.sqlite import SQLiteIndex
    from dimse.qr.store import InstanceStore
    from pydicom.dataset import Dataset

    location, db, point = sys.argv[1:]
    store = InstanceStore(location, SQLiteIndex(db))
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "P", "1.2.3", "1.2.3.4"
    store.store(encode_dataset(ds, "1.2.840.10008.1.2.1"), ds.SOPClassUID, ds.SOPInstanceUID,
                "1.2.840.10008.1.2.1")
    ds.SOPInstanceUID = "1.2.3.4.6"
    data = encode_dataset(ds, "1.2.840.10008.1.2.1")
    if point == "writing":
        sink = store.incoming(ds.SOPClassUID, ds.SOPInstanceUID, "1.2.840.10008.1.2.1")
        sink.write(data[:10])
        os._exit(9)
    store.index.add = lambda record: os._exit(9)  # dies after the rename
    store.store(data, ds.SOPClassUID, ds.SOPInstanceUID, "1.2.840.10008.1.2.1")
    """
)


@pytest.mark.parametrize(("point", "indexed"), [("writing", 1), ("committing", 2)])
def test_recover_after_a_killed_process(paths: tuple[Path, Path], point: str, indexed: int) -> None:
    location, db = paths
    done = subprocess.run(
        [sys.executable, "-c", _CRASHING_STORE, str(location), str(db), point],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 9, done.stderr
    store = open_store(paths)
    assert store.index.count() == 1  # the first instance's commit survived the kill
    report = store.recover()
    assert store.index.count() == indexed
    assert (len(report.temp_deleted), len(report.indexed)) == (
        (1, 0) if point == "writing" else (0, 1)
    )
    assert store.recover().changed is False
    store.index.close()


def test_concurrent_stores_and_queries(store: InstanceStore) -> None:
    """The runtime calls the store and index from worker threads."""
    import threading

    errors: list[BaseException] = []

    def writer(base: int) -> None:
        try:
            for n in range(15):
                put(
                    store, instance(SOPInstanceUID=uid(30, base, n), SeriesInstanceUID=uid(1, base))
                )
                put(store, instance(SOPInstanceUID=uid(30, 0, 0)))  # one UID from all threads
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(30):
                list(store.index.find(None, identifier("SERIES", SeriesInstanceUID=""), STUDY_ROOT))
                list(
                    store.instances_for(
                        "STUDY", identifier("STUDY", StudyInstanceUID=uid(1)), STUDY_ROOT
                    )
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b,)) for b in (1, 2, 3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.index.count() == 46
    assert not store.recover().changed


def test_a_store_that_would_move_a_series_is_refused_and_set_aside(
    store: InstanceStore,
) -> None:
    first = instance(SOPInstanceUID=uid(20), StudyInstanceUID=uid(21), SeriesInstanceUID=uid(22))
    kept = put(store, first)
    intruder = instance(SOPInstanceUID=uid(23), StudyInstanceUID=uid(24), SeriesInstanceUID=uid(22))
    with pytest.raises(StoreError, match=f"series {uid(22)} is filed under study {uid(21)}"):
        put(store, intruder)
    assert kept.exists() and store.index.get(uid(20)) is not None
    assert store.index.get(uid(23)) is None and store.index.count(Level.STUDY) == 1
    [aside] = (store.root / QUARANTINE).iterdir()
    assert aside.name.startswith(uid(23))
    assert not (store.root / uid(24)).exists()  # nothing left filed for a recovery to index
    assert not store.recover().changed
