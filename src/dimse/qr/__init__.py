"""Query/Retrieve without networking: information models, matching, index and store.

The C-FIND/C-GET/C-MOVE runtime uses three things from here: an :class:`Index` (usually
:class:`SQLiteIndex`) answering ``find`` and ``instances_for``, an
:class:`InstanceStore` filing received instances under a directory and keeping the
index in step, and the typed errors (:class:`IdentifierError`,
:class:`UnableToProcess`) it turns into statuses through the generated tables.
"""

from __future__ import annotations

from dimse.qr.errors import (
    HierarchyConflict,
    IdentifierError,
    IndexSchemaError,
    QueryError,
    StoreError,
    UnableToProcess,
)
from dimse.qr.index import FindResults, Index, InstanceLocation, InstanceRecord
from dimse.qr.models import (
    MODELS,
    PATIENT_ROOT,
    PATIENT_STUDY_ONLY,
    PROTOCOL_APPROVAL,
    STUDY_ROOT,
    InformationModel,
    KeyType,
    Level,
    model_for,
)
from dimse.qr.query import FindQuery, MatchOptions, RetrieveQuery, compile_find, compile_retrieve
from dimse.qr.sqlite import SQLiteIndex
from dimse.qr.store import InstanceStore, RecoveryReport

__all__ = [
    "MODELS",
    "PATIENT_ROOT",
    "PATIENT_STUDY_ONLY",
    "PROTOCOL_APPROVAL",
    "STUDY_ROOT",
    "FindQuery",
    "FindResults",
    "HierarchyConflict",
    "IdentifierError",
    "Index",
    "IndexSchemaError",
    "InformationModel",
    "InstanceLocation",
    "InstanceRecord",
    "InstanceStore",
    "KeyType",
    "Level",
    "MatchOptions",
    "QueryError",
    "RecoveryReport",
    "RetrieveQuery",
    "SQLiteIndex",
    "StoreError",
    "UnableToProcess",
    "compile_find",
    "compile_retrieve",
    "model_for",
]
