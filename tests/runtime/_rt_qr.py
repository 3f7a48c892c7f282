"""Helpers for the Query/Retrieve tests: an in-memory archive with pynetdicom-style
handlers, Q/R AEs, small instances (and a Protocol Approval instance), low-level
requests a well-behaved SCU never sends. Shared by tests/runtime and tests/interop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from _rt_net import TIMEOUT, make_dataset, scp_ae, scu_ae
from pydicom.dataset import Dataset
from pydicom.uid import UID, CTImageStorage, generate_uid

from dimse import evt
from dimse.ae import AE
from dimse.association import Association
from dimse.messages import CFindRQ, CGetRQ, CMoveRQ, Request
from dimse.qr_scu import ResponseStream
from dimse.sop_classes import (
    CompositeInstanceRootRetrieveGet,
    CompositeInstanceRootRetrieveMove,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelFind,
    PatientStudyOnlyQueryRetrieveInformationModelGet,
    PatientStudyOnlyQueryRetrieveInformationModelMove,
    ProtocolApprovalInformationModelFind,
    ProtocolApprovalInformationModelGet,
    ProtocolApprovalInformationModelMove,
    ProtocolApprovalStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

FIND = {
    "P": PatientRootQueryRetrieveInformationModelFind,
    "S": StudyRootQueryRetrieveInformationModelFind,
    "O": PatientStudyOnlyQueryRetrieveInformationModelFind,
    "PA": ProtocolApprovalInformationModelFind,
}
GET = {
    "P": PatientRootQueryRetrieveInformationModelGet,
    "S": StudyRootQueryRetrieveInformationModelGet,
    "O": PatientStudyOnlyQueryRetrieveInformationModelGet,
    "C": CompositeInstanceRootRetrieveGet,
    "PA": ProtocolApprovalInformationModelGet,
}
MOVE = {
    "P": PatientRootQueryRetrieveInformationModelMove,
    "S": StudyRootQueryRetrieveInformationModelMove,
    "O": PatientStudyOnlyQueryRetrieveInformationModelMove,
    "C": CompositeInstanceRootRetrieveMove,
    "PA": ProtocolApprovalInformationModelMove,
}
QR_CLASSES = [*FIND.values(), *GET.values(), *MOVE.values()]


def qr_scp_ae(title: str = "QR-SCP") -> AE:
    """A Q/R SCP: every model above, storage as SCP and (for C-GET) as SCU."""
    ae = scp_ae(title, storage=False)
    for uid in QR_CLASSES:
        ae.add_supported_context(uid)
    ae.add_supported_storage(scu_role=True)
    return ae


def qr_scu_ae(
    title: str = "QR-SCU", storage: Sequence[str] = (CTImageStorage, ProtocolApprovalStorage)
) -> AE:
    """A Q/R SCU proposing every model, and ``storage`` with its SCP role (C-GET)."""
    ae = scu_ae(*QR_CLASSES, title=title)
    ae.add_requested_storage(storage)
    return ae


def study_instances(count: int, sop_class: str = CTImageStorage, **elements: Any) -> list[Dataset]:
    """``count`` small instances of one study and series (no pixel data)."""
    study, series = generate_uid(), generate_uid()
    return [
        make_dataset(
            sop_class, StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=n + 1,
            **elements,
        )
        for n in range(count)
    ]  # fmt: skip


def protocol_approval(protocol_uid: str | None = None) -> Dataset:
    """A Protocol Approval instance (PS3.3 A.86): what it approves and one assertion."""
    ds = Dataset()
    ds.SOPClassUID = UID(ProtocolApprovalStorage)
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate = "20240101"
    subject = Dataset()
    subject.ReferencedSOPClassUID = UID(
        "1.2.840.10008.5.1.4.1.1.200.1"
    )  # CT Defined Procedure Protocol
    subject.ReferencedSOPInstanceUID = protocol_uid or generate_uid()
    ds.ApprovalSubjectSequence = [subject]
    approval = Dataset()
    approval.AssertionUID = generate_uid()
    approval.AssertionDateTime = "20240101120000"
    ds.ApprovalSequence = [approval]
    return ds


def query(level: str = "STUDY", **keys: Any) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


class Archive:
    """Instances in memory with EVT_C_FIND/GET/MOVE handlers (pynetdicom conventions):
    matching is "every key given with a value must be equal" - enough for tests."""

    def __init__(self, instances: Sequence[Dataset] = ()) -> None:
        self.instances = list(instances)
        self.destinations: dict[str, tuple[str, int]] = {}
        self.find_requests: list[Dataset] = []

    def matches(self, identifier: Dataset) -> list[Dataset]:
        keys = [e for e in identifier if e.keyword != "QueryRetrieveLevel" and e.VR != "SQ"]
        wanted = [(e.keyword, e.value) for e in keys if e.value not in (None, "", [])]
        return [ds for ds in self.instances if all(str(ds.get(k, "")) == str(v) for k, v in wanted)]

    def on_find(self, event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        identifier = event.identifier
        self.find_requests.append(identifier)
        for ds in self.matches(identifier):
            if event.is_cancelled:
                yield 0xFE00, None
                return
            match = Dataset()
            for element in identifier:
                match[element.tag] = ds.get(element.tag, element)
            yield 0xFF00, match

    def on_get(self, event: evt.Event) -> Iterator[Any]:
        found = self.matches(event.identifier)
        yield len(found)
        for ds in found:
            yield 0xFF00, ds

    def on_move(self, event: evt.Event) -> Iterator[Any]:
        found = self.matches(event.identifier)
        destination = self.destinations.get(event.move_destination or "")
        if destination is None:
            yield None, None
            return
        yield destination
        yield len(found)
        for ds in found:
            yield 0xFF00, ds

    def handlers(self) -> list[evt.HandlerBinding]:
        return [
            (evt.EVT_C_FIND, self.on_find),
            (evt.EVT_C_GET, self.on_get),
            (evt.EVT_C_MOVE, self.on_move),
        ]


class Received:
    """A Storage SCP's C-STORE handler that keeps what arrived (and the requests)."""

    def __init__(self, status: int = 0x0000) -> None:
        self.status = status
        self.datasets: list[Dataset] = []
        self.requests: list[Any] = []

    def __call__(self, event: evt.Event) -> int:
        self.datasets.append(event.dataset)
        self.requests.append(event.request)
        return self.status

    @property
    def uids(self) -> list[str]:
        return [str(ds.SOPInstanceUID) for ds in self.datasets]


def raw_request(
    assoc: Association,
    dimse: str,
    sop_class: str,
    payload: bytes,
    *,
    context_of: str | None = None,
    **fields: Any,
) -> ResponseStream:
    """A request built by hand: any affected SOP class on the context of ``context_of``
    (default the same class), with any data set bytes (an undecodable identifier...)."""
    context = assoc.context_for(context_of or sop_class)
    kinds: dict[str, type[Request]] = {"C-FIND": CFindRQ, "C-GET": CGetRQ, "C-MOVE": CMoveRQ}
    request = kinds[dimse](
        message_id=assoc._router.next_message_id(), affected_sop_class_uid=sop_class, **fields
    )
    return ResponseStream(assoc, context, request, payload)


# Explicit VR LE bytes no decoder accepts: an element whose VR is "XX".
GARBAGE = b"\x08\x00\x52\x00XX\x06\x00STUDY " + b"\x10\x00\x10\x00XX\x02\x00AB"


def failed_uids(identifier: Dataset | None) -> list[str]:
    """(0008,0058) as a list (pydicom gives a lone value as a str)."""
    if identifier is None or "FailedSOPInstanceUIDList" not in identifier:
        return []
    value = identifier.FailedSOPInstanceUIDList
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


async def collect(stream: Any) -> list[tuple[Any, Dataset | None]]:
    return [item async for item in stream]


def write_instances(folder: Path, instances: Sequence[Dataset]) -> list[Path]:
    from _rt_net import write_part10

    folder.mkdir(parents=True, exist_ok=True)
    return [write_part10(folder / f"{ds.SOPInstanceUID}.dcm", ds) for ds in instances]


__all__ = [
    "FIND",
    "GARBAGE",
    "GET",
    "MOVE",
    "QR_CLASSES",
    "TIMEOUT",
    "Archive",
    "Received",
    "collect",
    "failed_uids",
    "protocol_approval",
    "qr_scp_ae",
    "qr_scu_ae",
    "query",
    "raw_request",
    "study_instances",
    "write_instances",
]
