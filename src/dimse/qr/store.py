"""The instance store: PS3.10 files under one directory, indexed, crash-consistent.

Layout: ``<location>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>`` (UIDs are
checked with :func:`dimse.part10.is_valid_uid` before they name anything), so no
directory grows past one series, a study can be copied or deleted as a directory,
and a person can find an instance by its UIDs. Instances without valid Study and
Series UIDs (non-patient objects such as Protocol Approvals) go to
``<location>/_unfiled/<SOPInstanceUID>`` (no UID can be named ``_unfiled``).

Protocol: an instance is either stored and indexed, or absent.

1. Bytes go to a hidden ``.part`` file in ``<location>/.incoming/``, which is fsynced
   and renamed to ``<SOP UID>.<random>.dcm`` (:class:`~dimse.part10.InstanceFile`);
   the network runtime streams C-STORE data there (:meth:`InstanceStore.incoming`).
2. :meth:`InstanceStore.adopt` reads the header, renames the file to its place
   (fsyncing the directories it created or changed), then commits it to the index in
   one transaction. A copy of the same SOP Instance UID elsewhere is deleted after
   the commit; a copy at the same place was replaced by the rename.
3. Removal deletes the file first, then the index row.

:meth:`InstanceStore.recover` (run at start-up) finishes or undoes whatever a crash
interrupted: ``.part`` files are deleted; complete files in ``.incoming`` are adopted;
rows whose file is gone are removed; rows whose file changed size or mtime (a
replacement that was not committed) are re-indexed; files not in the index are
indexed, or, when another file holds the same SOP Instance UID, the older of the
two is deleted; unreadable files named like instances go to ``.quarantine``.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pydicom
from pydicom.dataset import Dataset

from dimse._implementation import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dimse.part10 import (
    InstanceFile,
    encode_file_meta,
    fsync_directory,
    is_valid_uid,
    read_file_meta,
)
from dimse.qr.errors import HierarchyConflict, StoreError
from dimse.qr.index import Index, InstanceLocation, InstanceRecord
from dimse.qr.models import InformationModel, Level

__all__ = ["InstanceStore", "RecoveryReport"]

INCOMING = ".incoming"
QUARANTINE = ".quarantine"
UNFILED = "_unfiled"


@attrs.define
class RecoveryReport:
    """What :meth:`InstanceStore.recover` did, file by file (relative paths)."""

    temp_deleted: list[str] = attrs.Factory(list)
    adopted: list[str] = attrs.Factory(list)
    rows_removed: list[str] = attrs.Factory(list)
    reindexed: list[str] = attrs.Factory(list)
    indexed: list[str] = attrs.Factory(list)
    stale_deleted: list[str] = attrs.Factory(list)
    quarantined: list[str] = attrs.Factory(list)
    foreign: list[str] = attrs.Factory(list)  # unreadable, not ours: left alone

    @property
    def changed(self) -> bool:
        return any(
            getattr(self, f.name) for f in attrs.fields(RecoveryReport) if f.name != "foreign"
        )



class InstanceStore:
    """Files received instances under ``instance_location`` and keeps ``index`` in step."""

    def __init__(
        self,
        instance_location: str | os.PathLike[str],
        index: Index,
        *,
        fsync: bool = True,
    ) -> None:
        self.root = Path(instance_location).resolve()
        self.index = index
        self.fsync = fsync
        self._lock = threading.Lock()
        (self.root / INCOMING).mkdir(parents=True, exist_ok=True)
        own = getattr(index, "path", None)
        self._own_files = (
            {os.path.abspath(f"{own}{s}") for s in ("", "-wal", "-shm", "-journal")}
            if isinstance(own, str)
            else set()
        )

    # -- paths ----------------------------------------------------------------------------
    @staticmethod
    def relative_path(study_uid: str, series_uid: str, sop_instance_uid: str) -> str:
        """Where an instance lives, relative to the store (POSIX separators)."""
        if is_valid_uid(study_uid) and is_valid_uid(series_uid):
            return f"{study_uid}/{series_uid}/{sop_instance_uid}"
        return f"{UNFILED}/{sop_instance_uid}"

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def _ensure_dir(self, directory: Path) -> None:
        missing = []
        probe = directory
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        directory.mkdir(parents=True, exist_ok=True)
        if self.fsync:
            for created in reversed(missing):
                fsync_directory(created.parent)

    # -- storing --------------------------------------------------------------------------
    def incoming(
        self,
        sop_class_uid: str,
        sop_instance_uid: str,
        transfer_syntax_uid: str,
        source_ae_title: str = "",
    ) -> InstanceFile:
        """A sink for a C-STORE being received: write the dataset bytes, ``close()`` it,
        then :meth:`adopt` the path it returns (``discard()`` on failure)."""
        meta = encode_file_meta(
            sop_class_uid,
            sop_instance_uid,
            transfer_syntax_uid,
            IMPLEMENTATION_CLASS_UID,
            IMPLEMENTATION_VERSION_NAME,
            source_ae_title.strip()[:16],
        )
        suffix = f".{secrets.token_hex(6)}.dcm"  # concurrent copies of one UID coexist
        return InstanceFile.create(
            self.root / INCOMING, meta, sop_instance_uid, fsync=self.fsync, suffix=suffix
        )

    def store(
        self,
        dataset: bytes | bytearray | memoryview,
        sop_class_uid: str,
        sop_instance_uid: str,
        transfer_syntax_uid: str,
        source_ae_title: str = "",
    ) -> InstanceLocation:
        """Store an encoded dataset (as received in a C-STORE) and index it."""
        sink = self.incoming(sop_class_uid, sop_instance_uid, transfer_syntax_uid, source_ae_title)
        try:
            sink.write(dataset)
        except BaseException:
            sink.discard()
            raise
        return self.adopt(sink.close())

    def adopt(self, path: str | os.PathLike[str]) -> InstanceLocation:
        """File a complete PS3.10 file (moved, not copied: it must be on the store's file
        system, as ``.incoming`` files are) and index it. Raises StoreError, after moving
        the file to ``.quarantine``, if it is not a usable instance."""
        source = Path(path)
        try:
            record, rel = self._read(source)
        except StoreError:
            self._quarantine(source)
            raise
        with self._lock:
            final = self.root / rel
            self._ensure_dir(final.parent)
            os.replace(source, final)
            if self.fsync:
                fsync_directory(final.parent)
                if source.parent != final.parent:
                    fsync_directory(source.parent)
            self._commit(record, final)
        return InstanceLocation(
            record.sop_class_uid, record.sop_instance_uid, record.transfer_syntax_uid, str(final)
        )

    def _read(self, source: Path) -> tuple[InstanceRecord, str]:
        """The index record of a file and where it belongs (raises StoreError)."""
        try:
            meta = read_file_meta(source)
            ds = pydicom.dcmread(source, stop_before_pixels=True)
            sop_uid = str(ds.get("SOPInstanceUID", "") or "").strip()
            study_uid = str(ds.get("StudyInstanceUID", "") or "").strip()
            series_uid = str(ds.get("SeriesInstanceUID", "") or "").strip()
            if "SOPClassUID" not in ds:
                ds.SOPClassUID = meta.sop_class_uid
        except Exception as exc:  # pydicom raises many types on bad data, some lazily
            raise StoreError(f"{source}: not a readable DICOM instance: {exc}") from exc
        if not sop_uid:
            # Type 1 in the SOP Common Module; without it nothing can name or find the
            # instance (and truncated garbage usually lacks it).
            raise StoreError(f"{source}: the dataset has no SOP Instance UID")
        if meta.sop_instance_uid and sop_uid != meta.sop_instance_uid:
            raise StoreError(
                f"{source}: dataset SOP Instance UID {sop_uid} is not the header's "
                f"{meta.sop_instance_uid}"
            )
        if not is_valid_uid(sop_uid):
            raise StoreError(f"{source}: invalid SOP Instance UID {sop_uid!r}")
        rel = self.relative_path(study_uid, series_uid, sop_uid)
        try:
            record = InstanceRecord.from_dataset(
                ds, transfer_syntax_uid=meta.transfer_syntax_uid, path=rel
            )
        except ValueError as exc:
            raise StoreError(f"{source}: {exc}") from exc
        return record, rel

    def _commit(self, record: InstanceRecord, final: Path) -> None:
        stat = final.stat()
        record = attrs.evolve(record, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        previous = self.index.get(record.sop_instance_uid)
        try:
            self.index.add(record)
        except HierarchyConflict as exc:
            # Filed already, not indexed: set it aside, so neither this store nor a
            # later recovery indexes it, and say why.
            self._quarantine(final)
            self._prune(final.parent)
            raise StoreError(str(exc)) from exc
        if previous is not None and previous.path != record.path:
            self._unlink(self.root / previous.path)

    def _unlink(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        if self.fsync:
            fsync_directory(path.parent)
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove series/study directories left empty (best effort)."""
        while directory != self.root and directory.parent != directory:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def _quarantine(self, source: Path) -> str:
        target_dir = self.root / QUARANTINE
        target_dir.mkdir(exist_ok=True)
        target = target_dir / f"{source.name}.{secrets.token_hex(4)}"
        try:
            os.replace(source, target)
        except OSError:
            return ""
        return target.relative_to(self.root).as_posix()

    def remove(self, sop_instance_uid: str) -> bool:
        """Delete an instance: the file first, then its index row."""
        with self._lock:
            location = self.index.get(sop_instance_uid)
            if location is None:
                return False
            self._unlink(self.root / location.path)
            self.index.remove(sop_instance_uid)
            return True

    # -- retrieving -----------------------------------------------------------------------
    def instances_for(
        self,
        level: Level | str | None,
        identifier: Dataset,
        model: InformationModel | str,
    ) -> Iterator[InstanceLocation]:
        """The index's C-GET/C-MOVE answer with absolute paths."""
        for location in self.index.instances_for(level, identifier, model):
            yield location._replace(path=str(self.root / location.path))

    # -- recovery -------------------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        """Reconcile files and index after a crash (see the module docstring)."""
        report = RecoveryReport()
        incoming = self.root / INCOMING
        for path in sorted(incoming.iterdir()):
            if not path.is_file():
                continue
            if path.name.startswith(".") and path.name.endswith(".part"):
                path.unlink(missing_ok=True)
                report.temp_deleted.append(f"{INCOMING}/{path.name}")
                continue
            try:
                location = self.adopt(path)
            except StoreError:
                report.quarantined.append(f"{INCOMING}/{path.name}")
                continue
            report.adopted.append(Path(location.path).relative_to(self.root).as_posix())
        with self._lock:
            self._reconcile(self._scan(report), report)
        return report

    def _scan(self, report: RecoveryReport) -> dict[str, tuple[int, int]]:
        """Every file of the store with its (size, mtime_ns); deletes ``.part`` files."""
        found: dict[str, tuple[int, int]] = {}
        for directory, dirs, files in os.walk(self.root):
            here = Path(directory)
            if here == self.root:
                dirs[:] = [d for d in dirs if d not in (QUARANTINE, INCOMING)]
            for name in files:
                path = here / name
                if name.startswith(".") and name.endswith(".part"):
                    path.unlink(missing_ok=True)
                    report.temp_deleted.append(path.relative_to(self.root).as_posix())
                    continue
                if os.path.abspath(path) in self._own_files:
                    continue
                stat = path.stat()
                found[path.relative_to(self.root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
        return found

    def _reconcile(self, on_disk: dict[str, tuple[int, int]], report: RecoveryReport) -> None:
        indexed: set[str] = set()
        for uid, rel, size, mtime_ns in self.index.files():
            indexed.add(rel)
            state = on_disk.get(rel)
            if state is None:
                current = self.index.get(uid)  # the snapshot may be out of date by now
                if current is not None and current.path == rel:
                    self.index.remove(uid)
                    report.rows_removed.append(rel)
            elif state != (size, mtime_ns) and self._index_file(rel, report, uid):
                report.reindexed.append(rel)
        for rel in sorted(set(on_disk) - indexed):
            if self._index_file(rel, report):
                report.indexed.append(rel)

    def _index_file(self, rel: str, report: RecoveryReport, indexed_uid: str = "") -> bool:
        """(Re-)index a file found on disk where it lies; settle duplicates by age."""
        path = self.root / rel
        try:
            record, _canonical = self._read(path)
        except StoreError:
            if indexed_uid:
                self.index.remove(indexed_uid)
            if indexed_uid or is_valid_uid(path.name):
                report.quarantined.append(self._quarantine(path) or rel)
            else:
                report.foreign.append(rel)
            return False
        record = attrs.evolve(record, path=rel)
        if indexed_uid and indexed_uid != record.sop_instance_uid:
            self.index.remove(indexed_uid)  # another instance now lies at that path
        other = self.index.get(record.sop_instance_uid)
        if other is not None and other.path != rel:
            other_path = self.root / other.path
            if other_path.exists() and other_path.stat().st_mtime_ns >= path.stat().st_mtime_ns:
                self._unlink(path)
                report.stale_deleted.append(rel)
                return False
            report.stale_deleted.append(other.path)
        try:
            self._commit(record, path)
        except StoreError:
            report.quarantined.append(rel)
            return False
        return True
