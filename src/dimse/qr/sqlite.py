"""The SQLite index: one file, WAL mode, a table per Query/Retrieve level.

Schema (version 1): ``patient``, ``study``, ``series`` and ``instance`` tables linked by
``patient_pk``/``study_pk``/``series_pk``, each keyed by its level's Unique Key (PS3.4
C.2.2.1.1: PatientID, StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID). Why one table
per level rather than one instance table: a STUDY query reads one row per study, not one
per instance (1,000 studies of 500 images are 1,000 rows), Unique Keys become UNIQUE
indexes, and the counts of PS3.4 Table C.3-1 are index-only subqueries, never stored
counters that could drift.

Each level row holds the searchable attributes of its level (columns described in
:mod:`dimse.qr.sqlschema`) copied from its *representative*: the newest instance
indexed under it. Every other attribute is read from the representative's
``attributes``: its top level in the DICOM JSON model, zlib-compressed.

A query runs as one SQL statement built from the compiled keys (exact values, ``IN``
lists through ``json_each``, ranges, GLOB for wild cards, with ``OR k = ''`` where an
empty value matches) and every candidate is then checked by
:meth:`~dimse.qr.query.FindQuery.matches`, so answers are exactly PS3.4's whatever the
prefilter lets through. Hierarchy changes follow the newest instance: a study re-sent
under another Patient ID moves to that patient, and parents left empty are deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
from pydicom.dataset import Dataset

from dimse.qr import dicomjson
from dimse.qr import sqlschema as sq
from dimse.qr.dicomjson import JsonDataset, JsonElement
from dimse.qr.errors import HierarchyConflict, IndexSchemaError
from dimse.qr.index import FindResults, Index, InstanceLocation, InstanceRecord
from dimse.qr.models import ComputedKey, InformationModel, Level
from dimse.qr.query import (
    FindQuery,
    MatchOptions,
    QueryKey,
    compile_find,
    compile_retrieve,
    resolve_model,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteIndex"]

SCHEMA_VERSION = 1
Migration = Callable[[sqlite3.Connection], None]
# MIGRATIONS[n] upgrades a version-n database to n + 1 inside one transaction. The
# ``attributes`` column holds every instance's full top level, so a migration that adds
# a searchable column can fill it from there without reopening a single file.
MIGRATIONS: dict[int, Migration] = {}


@attrs.frozen
class _Source:
    kind: str  # "column", "computed", "json"
    slot: int  # row index of the column/computed value, or of the representative pk
    column: sq.Column | None = None
    computed: ComputedKey | None = None


@attrs.frozen
class _Plan:
    sql: str
    params: list[Any]
    sources: dict[int, _Source]  # id(QueryKey) -> where its value comes from
    json_slots: frozenset[int]


# The study a series is filed under (the instance being replaced is already gone).
_STUDY_OF_SERIES = (
    f"SELECT st.{sq.IDENTITY[Level.STUDY].name} FROM {sq.TABLE[Level.SERIES]} se "
    f"JOIN {sq.TABLE[Level.STUDY]} st ON se.{sq.PARENT[Level.SERIES]} = st.pk "
    f"WHERE se.{sq.IDENTITY[Level.SERIES].name} = ?"
)


class SQLiteIndex(Index):
    """The default :class:`~dimse.qr.index.Index`: ``SQLiteIndex("qr.sqlite")``.

    Thread-safe (one connection behind a lock; queries are fetched whole under it, so a
    slow consumer of C-FIND responses never holds the database). ``synchronous=NORMAL``
    under WAL may lose the last commits on power loss but never corrupts; the store's
    ``recover()`` re-indexes any file whose commit was lost.
    """

    def __init__(self, path: str | os.PathLike[str], *, prefilter: bool = True) -> None:
        self.path = os.fspath(path)
        self._prefilter = prefilter  # False only in tests: Python alone must agree
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._open_schema()
        except BaseException:
            self._conn.close()
            raise

    # -- schema ---------------------------------------------------------------------------
    def _open_schema(self) -> None:
        with self._transaction() as cur:  # two processes creating one file: one wins
            names = {
                row[0] for row in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if not names:
                for statement in sq.ddl():
                    cur.execute(statement)
                cur.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                return
        if "schema_version" not in names:
            raise IndexSchemaError(f"{self.path}: not a dimse index (no schema_version)")
        (version,) = self._conn.execute("SELECT version FROM schema_version").fetchone()
        if version > SCHEMA_VERSION:
            raise IndexSchemaError(
                f"{self.path}: schema version {version} is newer than this dimse's {SCHEMA_VERSION}"
            )
        while version < SCHEMA_VERSION:
            migrate = MIGRATIONS.get(version)
            if migrate is None:
                raise IndexSchemaError(f"{self.path}: no migration from schema {version}")
            with self._transaction():
                migrate(self._conn)
                self._conn.execute("UPDATE schema_version SET version = ?", (version + 1,))
            version += 1

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):  # closing matters more than stats
                self._conn.execute("PRAGMA optimize")
            self._conn.close()

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT version FROM schema_version").fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    # -- writing --------------------------------------------------------------------------
    def add(self, record: InstanceRecord) -> None:
        data = record.attributes
        with self._transaction() as cur:
            old = cur.execute(
                "SELECT pk FROM instance WHERE sop_instance_uid = ?", (record.sop_instance_uid,)
            ).fetchone()
            if old is not None:
                self._delete_instance(cur, old[0])
            cells = sq.cells(data, Level.IMAGE)
            cells.update(
                sop_instance_uid=record.sop_instance_uid,
                sop_class_uid=record.sop_class_uid,
                transfer_syntax=record.transfer_syntax_uid,
                path=record.path,
                size=record.size,
                mtime_ns=record.mtime_ns,
                attributes=record.encoded,
            )
            pk = self._insert(cur, "instance", cells)
            study_uid = record.text("0020000D").strip()
            series_uid = record.text("0020000E").strip()
            if not (study_uid and series_uid):
                return  # not in the patient/study hierarchy (e.g. a Protocol Approval)
            filed = cur.execute(_STUDY_OF_SERIES, (series_uid,)).fetchone()
            if filed is not None and filed[0] != study_uid:
                raise HierarchyConflict(
                    f"series {series_uid} is filed under study {filed[0]}, not {study_uid}"
                )
            parent = None
            for level in (Level.PATIENT, Level.STUDY, Level.SERIES):
                parent = self._upsert(cur, level, data, pk, parent)
            cur.execute("UPDATE instance SET series_pk = ? WHERE pk = ?", (parent, pk))

    @staticmethod
    def _insert(cur: sqlite3.Cursor, table: str, cells: dict[str, Any]) -> int:
        names = ", ".join(cells)
        marks = ", ".join("?" * len(cells))
        cur.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(cells.values()))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _upsert(
        self, cur: sqlite3.Cursor, level: Level, data: JsonDataset, rep: int, parent: int | None
    ) -> int:
        table, identity = sq.TABLE[level], sq.IDENTITY[level]
        cells = sq.cells(data, level)
        cells["rep"] = rep
        if level in sq.PARENT:
            cells[sq.PARENT[level]] = parent
        column = sq.PARENT.get(level, "NULL")
        row = cur.execute(
            f"SELECT pk, {column} FROM {table} WHERE {identity.name} = ?",
            (cells[identity.name],),
        ).fetchone()
        if row is None:
            return self._insert(cur, table, cells)
        pk, old_parent = row
        assignments = ", ".join(f"{name} = ?" for name in cells)
        cur.execute(f"UPDATE {table} SET {assignments} WHERE pk = ?", [*cells.values(), pk])
        if old_parent is not None and old_parent != parent:
            self._settle(cur, sq.UP[level], old_parent)  # moved: its old parent lost a child
        return int(pk)

    def _delete_instance(self, cur: sqlite3.Cursor, pk: int) -> None:
        (series_pk,) = cur.execute("SELECT series_pk FROM instance WHERE pk = ?", (pk,)).fetchone()
        cur.execute("DELETE FROM instance WHERE pk = ?", (pk,))
        if series_pk is not None:
            self._settle(cur, Level.SERIES, series_pk)

    def _settle(self, cur: sqlite3.Cursor, level: Level, pk: int) -> None:
        """An entity lost an instance: delete it if empty, else re-pick its
        representative; then its parent in turn."""
        table = sq.TABLE[level]
        row = cur.execute(
            f"SELECT rep, {sq.PARENT.get(level, 'NULL')} FROM {table} WHERE pk = ?", (pk,)
        ).fetchone()
        if row is None:
            return
        rep, parent = row
        (newest,) = cur.execute(sq.NEWEST[level], (pk,)).fetchone()
        if newest is None:
            cur.execute(f"DELETE FROM {table} WHERE pk = ?", (pk,))
        elif newest != rep:
            (blob,) = cur.execute(
                "SELECT attributes FROM instance WHERE pk = ?", (newest,)
            ).fetchone()
            cells = sq.cells(dicomjson.decode(blob), level)
            cells.pop(sq.IDENTITY[level].name)
            cells["rep"] = newest
            assignments = ", ".join(f"{name} = ?" for name in cells)
            cur.execute(f"UPDATE {table} SET {assignments} WHERE pk = ?", [*cells.values(), pk])
        if parent is not None:
            self._settle(cur, sq.UP[level], parent)

    def remove(self, sop_instance_uid: str) -> InstanceLocation | None:
        with self._transaction() as cur:
            row = cur.execute(
                "SELECT pk, sop_class_uid, sop_instance_uid, transfer_syntax, path "
                "FROM instance WHERE sop_instance_uid = ?",
                (sop_instance_uid,),
            ).fetchone()
            if row is None:
                return None
            self._delete_instance(cur, row[0])
            return InstanceLocation(*row[1:])

    # -- reading --------------------------------------------------------------------------
    def count(self, level: Level = Level.IMAGE) -> int:
        with self._lock:
            (n,) = self._conn.execute(f"SELECT count(*) FROM {sq.TABLE[Level(level)]}").fetchone()
            return int(n)

    def get(self, sop_instance_uid: str) -> InstanceLocation | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT sop_class_uid, sop_instance_uid, transfer_syntax, path "
                "FROM instance WHERE sop_instance_uid = ?",
                (sop_instance_uid,),
            ).fetchone()
        return InstanceLocation(*row) if row is not None else None

    def files(self) -> Iterator[tuple[str, str, int, int]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT sop_instance_uid, path, size, mtime_ns FROM instance ORDER BY pk"
            ).fetchall()
        return iter(rows)

    def instances_for(
        self,
        level: Level | str | None,
        identifier: Dataset,
        model: InformationModel | str,
    ) -> Iterator[InstanceLocation]:
        query = compile_retrieve(identifier, model, level)
        select = "SELECT i.sop_class_uid, i.sop_instance_uid, i.transfer_syntax, i.path FROM "
        where: list[str] = []
        params: list[Any] = []
        if query.model.hierarchical:
            select += sq.FROM[Level.IMAGE]
        else:
            select += "instance i"
            where.append(f"i.sop_class_uid IN {sq.IN_LIST}")
            params.append(json.dumps(list(query.model.instance_sop_classes)))
        for lv, uids in query.uids:
            where.append(f"{sq.ALIAS[lv]}.{sq.IDENTITY[lv].name} IN {sq.IN_LIST}")
            params.append(json.dumps(list(uids)))
        sql = f"{select} WHERE {' AND '.join(where)} ORDER BY i.pk"
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return (InstanceLocation(*row) for row in rows)

    def find(
        self,
        level: Level | str | None,
        identifier: Dataset,
        model: InformationModel | str,
        options: MatchOptions | None = None,
    ) -> FindResults:
        query = compile_find(identifier, resolve_model(model), level, options)
        query = query.drop(self._unsupported(query))
        plan = self._plan(query)
        with self._lock:
            rows = self._conn.execute(plan.sql, plan.params).fetchall()
            blobs = self._blobs(rows, plan.json_slots)
        return FindResults(self._responses(query, plan, rows, blobs), query.unsupported)

    @staticmethod
    def _chain(query: FindQuery) -> tuple[Level, ...]:
        if not query.model.hierarchical:
            return (Level.IMAGE,)
        return tuple(level for level in Level if level.depth <= query.level.depth)

    def _unsupported(self, query: FindQuery) -> list[str]:
        chain = self._chain(query)
        dropped = []
        for key in query.keys:
            if key.computed is None:
                continue
            need = sq.COMPUTED.get(key.computed)
            if need is None or need[0] not in chain or need[0].depth > key.level.depth:
                dropped.append(key.keyword)
        return dropped

    def _plan(self, query: FindQuery) -> _Plan:
        chain = self._chain(query)
        columns = [f"{sq.ALIAS[lv]}.{'pk' if lv is Level.IMAGE else 'rep'}" for lv in chain]
        rep_slot = {lv: n for n, lv in enumerate(chain)}
        sources: dict[int, _Source] = {}
        where: list[str] = []
        params: list[Any] = []
        if query.model.hierarchical:
            from_ = sq.FROM[query.level]
        else:
            from_ = "instance i"
            where.append(f"i.sop_class_uid IN {sq.IN_LIST}")
            params.append(json.dumps(list(query.model.instance_sop_classes)))
        for key in query.keys:
            if key.computed is not None:
                sources[id(key)] = _Source("computed", len(columns), computed=key.computed)
                columns.append(sq.COMPUTED[key.computed][1])
                continue
            column = sq.BY_KEYWORD.get(key.keyword)
            if column is None or column.level not in chain or column.level.depth > key.level.depth:
                sources[id(key)] = _Source("json", rep_slot[key.level])
                continue
            alias = sq.ALIAS[column.level]
            sources[id(key)] = _Source("column", len(columns), column=column)
            columns.append(f"{alias}.{column.name}")
            if key.match and self._prefilter:
                condition = sq.condition(column, alias, key.matcher, key.matcher.empty_matches)
                if condition is not None:
                    where.append(condition[0])
                    params += condition[1]
        if self._prefilter:
            for date, _time, pair in query.pairs:
                condition = sq.pair_condition(date, chain, pair)
                if condition is not None:
                    where.append(condition[0])
                    params += condition[1]
        sql = f"SELECT {', '.join(columns)} FROM {from_}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {sq.ALIAS[chain[-1]]}.pk"
        json_slots = frozenset(s.slot for s in sources.values() if s.kind == "json")
        return _Plan(sql, params, sources, json_slots)

    def _blobs(self, rows: list[tuple[Any, ...]], slots: frozenset[int]) -> dict[int, bytes]:
        wanted = sorted({row[slot] for row in rows for slot in slots})
        blobs: dict[int, bytes] = {}
        for start in range(0, len(wanted), 5000):
            chunk = json.dumps(wanted[start : start + 5000])
            blobs.update(
                self._conn.execute(
                    f"SELECT pk, attributes FROM instance WHERE pk IN {sq.IN_LIST}", (chunk,)
                ).fetchall()
            )
        return blobs

    def _responses(
        self,
        query: FindQuery,
        plan: _Plan,
        rows: list[tuple[Any, ...]],
        blobs: dict[int, bytes],
    ) -> Iterator[Dataset]:
        # A few decoded instances are kept: rows of one parent share its representative,
        # and keeping all of them would make the garbage collector rescan every one.
        decoded: dict[int, JsonDataset] = {}
        sources = plan.sources

        for row in rows:

            def view(key: QueryKey, row: tuple[Any, ...] = row) -> JsonElement | None:
                source = sources[id(key)]
                if source.kind == "column":
                    assert source.column is not None
                    return sq.column_element(source.column, row[source.slot])
                if source.kind == "computed":
                    assert source.computed is not None
                    return sq.computed_element(source.computed, row[source.slot])
                pk = row[source.slot]
                data = decoded.get(pk)
                if data is None:
                    if len(decoded) >= 16:
                        decoded.clear()
                    data = decoded[pk] = dicomjson.decode(blobs[pk])
                return data.get(key.matcher.key)

            if query.matches(view):
                yield _response_dataset(query, query.response(view))


def _response_dataset(query: FindQuery, response: dict[str, JsonElement]) -> Dataset:
    if query.model.hierarchical:
        response["00080052"] = {"vr": "CS", "Value": [query.level.value]}
    if dicomjson.has_non_ascii(response):
        response["00080005"] = {"vr": "CS", "Value": ["ISO_IR 192"]}
    return dicomjson.to_dataset(response)
