"""Typed DIMSE-C messages: C-ECHO, C-STORE, C-FIND, C-GET, C-MOVE and C-CANCEL.

Each message is a frozen attrs class whose snake_case fields are the command elements
of PS3.7 Tables 9.3-1..9.3-13 (C-STORE from the service definition in PS3.7 9.1.1;
the others from 9.1.2-9.1.5). ``to_command()`` encodes the command set with
:mod:`dimse.command_set`; :func:`decode_message` goes the other way.

Mandatory (M) fields default to ``None`` only so that leaving one out is reported the
same way everywhere: building a message locally without one raises
:class:`~dimse.errors.UsageError`; a peer's command set without one raises
:class:`~dimse.errors.ProtocolError` with ``where`` = message name + element keyword
(``"C-STORE-RQ AffectedSOPInstanceUID"``). After construction they are never None.

Conditional (C) fields - sub-operation counts, Offending Element, Error Comment, the
C-FIND identifier - depend on the status and the service class (PS3.4, PS3.7 Annex C);
they are carried but not enforced here. Group 0000 elements a message type does not
define are kept in ``extra`` as raw values and written back on encode.

A response's status is a plain int; what it means comes from the generated tables
(:mod:`dimse.statuses`), see :meth:`Response.status_entry`.
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from dimse import command_set as cs
from dimse import statuses
from dimse._status_base import Category, StatusEntry, StatusTables, rule_entry
from dimse.errors import AbortReason, ProtocolError, UsageError

if TYPE_CHECKING:
    from dimse._service_base import ServiceClass

__all__ = [
    "VERIFICATION_SOP_CLASS",
    "CCancelRQ",
    "CEchoRQ",
    "CEchoRSP",
    "CFindRQ",
    "CFindRSP",
    "CGetRQ",
    "CGetRSP",
    "CMoveRQ",
    "CMoveRSP",
    "CStoreRQ",
    "CStoreRSP",
    "Message",
    "MessageFieldError",
    "Priority",
    "Request",
    "Response",
    "decode_message",
    "message_type",
    "status_category",
]

# PS3.4 A.4 / PS3.6: the Verification SOP Class, C-ECHO's default Affected SOP Class.
VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"


class Priority(IntEnum):
    """(0000,0700) Priority (PS3.7 Table E.1-1)."""

    LOW = 0x0002
    MEDIUM = 0x0000
    HIGH = 0x0001


class MessageFieldError(UsageError):
    """A locally built message lacks a mandatory field or holds an invalid value."""

    def __init__(self, message_name: str, keyword: str, problem: str) -> None:
        self.message_name = message_name
        self.keyword = keyword
        super().__init__(f"{message_name} {keyword}: {problem}")


def _m(element: int, default: Any = None) -> Any:
    """A mandatory field (M): None means 'missing', rejected after construction."""
    return attrs.field(default=default, kw_only=True, metadata={"element": element, "m": True})


def _u(element: int) -> Any:
    """A user-option or conditional field (U/C): None means 'absent from the wire'."""
    return attrs.field(default=None, kw_only=True, metadata={"element": element, "m": False})


_M = TypeVar("_M", bound="Message")
_PRIORITY = {"element": cs.PRIORITY, "m": True}  # M, with MEDIUM as the local default

# Element keyword of each attribute name, for error messages (filled by _prepare).
_KEYWORD: dict[str, str] = {"has_dataset": "CommandDataSetType", "extra": "extra"}
_DEFINED_ELEMENTS = frozenset({cs.COMMAND_GROUP_LENGTH, cs.COMMAND_FIELD, cs.COMMAND_DATA_SET_TYPE})
_US_ELEMENTS = frozenset(e for e, spec in cs.ELEMENTS.items() if spec.vr == "US")


class _Keyword:
    """pynetdicom's spelling of a field: ``req.AffectedSOPInstanceUID`` reads
    ``req.affected_sop_instance_uid`` (None where the message has no such field; UIDs
    and AE titles without their padding), so handlers written for it keep working."""

    def __init__(self, attr: str) -> None:
        self._attr = attr

    def __get__(self, message: object, owner: type | None = None) -> Any:
        value = getattr(message, self._attr, None)
        return value.rstrip("\x00 ") if isinstance(value, str) else value


@attrs.frozen(kw_only=True)
class Message:
    """Base of every DIMSE-C message; ``extra`` holds elements the type does not define."""

    command_field: ClassVar[cs.CommandField]
    name: ClassVar[str]  # "C-STORE-RQ"
    dimse: ClassVar[str]  # "C-STORE": the key of the status tables
    fixed_dataset: ClassVar[bool | None] = None  # None: the sender chooses
    _wire: ClassVar[tuple[tuple[str, int], ...]] = ()  # (attribute, element), set below
    _mandatory: ClassVar[tuple[str, ...]] = ()
    _us_fields: ClassVar[tuple[str, ...]] = ()

    extra: tuple[tuple[int, bytes], ...] = attrs.field(default=(), kw_only=True)
    has_dataset: bool = attrs.field(default=False, kw_only=True)

    # pynetdicom's (PS3.7 keyword) spelling of the fields, for handlers ported from it
    MessageID = _Keyword("message_id")
    MessageIDBeingRespondedTo = _Keyword("message_id_being_responded_to")
    AffectedSOPClassUID = _Keyword("affected_sop_class_uid")
    AffectedSOPInstanceUID = _Keyword("affected_sop_instance_uid")
    Priority = _Keyword("priority")
    MoveDestination = _Keyword("move_destination")
    MoveOriginatorApplicationEntityTitle = _Keyword("move_originator_application_entity_title")
    MoveOriginatorMessageID = _Keyword("move_originator_message_id")
    NumberOfRemainingSuboperations = _Keyword("number_of_remaining_suboperations")
    NumberOfCompletedSuboperations = _Keyword("number_of_completed_suboperations")
    NumberOfFailedSuboperations = _Keyword("number_of_failed_suboperations")
    NumberOfWarningSuboperations = _Keyword("number_of_warning_suboperations")

    def __attrs_post_init__(self) -> None:
        # One loop per concern, on tuples precomputed per class: this runs for every
        # message sent and received, so it stays a handful of attribute reads.
        for attr in self._mandatory:
            if getattr(self, attr) is None:
                raise MessageFieldError(self.name, _KEYWORD[attr], "mandatory field missing")
        for attr in self._us_fields:
            value = getattr(self, attr)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFF
            ):
                raise MessageFieldError(self.name, _KEYWORD[attr], f"{value!r} is not a US value")
        fixed = self.fixed_dataset
        if fixed is not None and self.has_dataset is not fixed:
            presence = "always has" if fixed else "never has"
            raise MessageFieldError(
                self.name, "CommandDataSetType", f"message {presence} a data set"
            )
        if self.extra:
            self._check_extra()

    def _check_extra(self) -> None:
        own = {element for _, element in self._wire}
        for element, raw in self.extra:
            if element in own or element in _DEFINED_ELEMENTS:
                raise MessageFieldError(
                    self.name, "extra", f"{cs.element_name(element)} is a field of the message"
                )
            if not isinstance(raw, bytes):
                raise MessageFieldError(self.name, "extra", "values must be raw bytes")

    def command_set(self) -> cs.CommandSet:
        """The message as a command set mapping (element number -> value)."""
        elements: cs.CommandSet = {
            cs.COMMAND_FIELD: int(self.command_field),
            cs.COMMAND_DATA_SET_TYPE: cs.DATASET_PRESENT if self.has_dataset else cs.NO_DATASET,
        }
        for attr, element in self._wire:
            value = getattr(self, attr)
            if value is not None:
                elements[element] = value
        for element, raw in self.extra:
            elements[element] = raw
        return elements

    def to_command(self) -> bytes:
        """The encoded command set (implicit VR little endian, group length first)."""
        try:
            return cs.encode(self.command_set())
        except MessageFieldError:
            raise
        except UsageError as exc:
            raise UsageError(f"{self.name}: {exc}") from exc

    encode_command = to_command


@attrs.frozen(kw_only=True)
class Request(Message):
    """A request: identified by its Message ID, about one SOP Class."""

    response_type: ClassVar[type[Response]]

    message_id: int = _m(cs.MESSAGE_ID)
    affected_sop_class_uid: str = _m(cs.AFFECTED_SOP_CLASS_UID)

    def response(self, status: int, **fields: Any) -> Response:
        """The response to this request, echoing its Message ID and SOP Class UID."""
        fields.setdefault("affected_sop_class_uid", self.affected_sop_class_uid)
        return self.response_type(
            message_id_being_responded_to=self.message_id, status=status, **fields
        )


@attrs.frozen(kw_only=True)
class Response(Message):
    """A response: the Message ID it answers and a status (PS3.7 Annex C)."""

    message_id_being_responded_to: int = _m(cs.MESSAGE_ID_BEING_RESPONDED_TO)
    status: int = _m(cs.STATUS)
    affected_sop_class_uid: str | None = _u(cs.AFFECTED_SOP_CLASS_UID)
    message_id: int | None = _u(cs.MESSAGE_ID)  # PS3.7 9.1.5.1.1: allowed, no meaning
    offending_element: tuple[int, ...] | None = _u(cs.OFFENDING_ELEMENT)
    error_comment: str | None = _u(cs.ERROR_COMMENT)
    error_id: int | None = _u(cs.ERROR_ID)

    def status_entry(
        self, service: str | StatusTables | type[ServiceClass] | None = None
    ) -> StatusEntry | None:
        """What the status means, from the generated tables.

        ``service`` narrows the lookup to one service class: its id (``"storage"``),
        its ``StatusTables``, or the generated ``ServiceClass``; None searches every
        table of this DIMSE service. A code no table lists gets its PS3.7 Annex C
        category (``statuses.CATEGORY_RULES``); None if it has none either.
        """
        code = self.status
        if service is None:
            return statuses.lookup(code, dimse=self.dimse)
        if isinstance(service, str):
            return statuses.lookup(code, service_class=service, dimse=self.dimse)
        tables = service if isinstance(service, StatusTables) else service.statuses
        entry = tables.lookup(code, self.dimse) if self.dimse in tables else None
        return entry or rule_entry(code, statuses.CATEGORY_RULES)

    @property
    def category(self) -> Category | None:
        """Success, Warning, Failure, Cancel or Pending (None for a meaningless code)."""
        return status_category(self.dimse, self.status)

    @property
    def is_pending(self) -> bool:
        return self.category is Category.PENDING

    # pynetdicom spelling, so ``status.Status`` code written for it keeps working.
    @property
    def Status(self) -> int:
        return self.status

    @property
    def ErrorComment(self) -> str | None:
        return self.error_comment


@lru_cache(maxsize=1024)
def status_category(dimse: str, code: int) -> Category | None:
    """The category of ``code`` for a DIMSE service, per the generated tables."""
    entry = statuses.lookup(code, dimse=dimse)
    return entry.category if entry is not None else None


class _PriorityMixin:
    __slots__ = ()

    def _check_priority(self, name: str) -> None:
        value = getattr(self, "priority", None)
        if type(value) is not Priority:
            if not isinstance(value, int):
                raise MessageFieldError(name, "Priority", f"{value!r} is not a Priority")
            try:
                object.__setattr__(self, "priority", Priority(value))
            except ValueError:
                raise MessageFieldError(
                    name, "Priority", f"{value!r} is not LOW, MEDIUM or HIGH"
                ) from None


@attrs.frozen(kw_only=True)
class _DataRequest(_PriorityMixin, Request):
    """A request with a Priority (M) and a data set: C-STORE, C-FIND, C-GET, C-MOVE."""

    fixed_dataset = True

    priority: Priority = attrs.field(default=Priority.MEDIUM, kw_only=True, metadata=_PRIORITY)
    has_dataset: bool = attrs.field(default=True, kw_only=True)

    def __attrs_post_init__(self) -> None:
        self._check_priority(self.name)
        super().__attrs_post_init__()


@attrs.frozen(kw_only=True)
class CEchoRQ(Request):
    """C-ECHO-RQ (PS3.7 Table 9.3-12): verification, no data set."""

    command_field = cs.C_ECHO_RQ
    name = "C-ECHO-RQ"
    dimse = "C-ECHO"
    fixed_dataset = False

    affected_sop_class_uid: str = _m(cs.AFFECTED_SOP_CLASS_UID, VERIFICATION_SOP_CLASS)


@attrs.frozen(kw_only=True)
class CEchoRSP(Response):
    """C-ECHO-RSP (PS3.7 Table 9.3-13)."""

    command_field = cs.C_ECHO_RSP
    name = "C-ECHO-RSP"
    dimse = "C-ECHO"
    fixed_dataset = False


@attrs.frozen(kw_only=True)
class CStoreRQ(_DataRequest):
    """C-STORE-RQ (PS3.7 Table 9.3-1); the data set is the SOP Instance."""

    command_field = cs.C_STORE_RQ
    name = "C-STORE-RQ"
    dimse = "C-STORE"

    affected_sop_instance_uid: str = _m(cs.AFFECTED_SOP_INSTANCE_UID)
    move_originator_application_entity_title: str | None = _u(
        cs.MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE
    )
    move_originator_message_id: int | None = _u(cs.MOVE_ORIGINATOR_MESSAGE_ID)

    def response(self, status: int, **fields: Any) -> Response:
        fields.setdefault("affected_sop_instance_uid", self.affected_sop_instance_uid)
        return super().response(status, **fields)


@attrs.frozen(kw_only=True)
class CStoreRSP(Response):
    """C-STORE-RSP (PS3.7 Table 9.3-2)."""

    command_field = cs.C_STORE_RSP
    name = "C-STORE-RSP"
    dimse = "C-STORE"
    fixed_dataset = False

    affected_sop_instance_uid: str | None = _u(cs.AFFECTED_SOP_INSTANCE_UID)


@attrs.frozen(kw_only=True)
class CFindRQ(_DataRequest):
    """C-FIND-RQ (PS3.7 Table 9.3-3); the data set is the Identifier."""

    command_field = cs.C_FIND_RQ
    name = "C-FIND-RQ"
    dimse = "C-FIND"



@attrs.frozen(kw_only=True)
class CFindRSP(Response):
    """C-FIND-RSP (PS3.7 Table 9.3-4); a Pending response carries an Identifier."""

    command_field = cs.C_FIND_RSP
    name = "C-FIND-RSP"
    dimse = "C-FIND"


@attrs.frozen(kw_only=True)
class CGetRQ(_DataRequest):
    """C-GET-RQ (PS3.7 Table 9.3-6); the data set is the Identifier."""

    command_field = cs.C_GET_RQ
    name = "C-GET-RQ"
    dimse = "C-GET"



@attrs.frozen(kw_only=True)
class _SubOperations(Response):
    """The sub-operation counts of C-GET/C-MOVE responses (conditional, PS3.4 C.4.2/3)."""

    number_of_remaining_suboperations: int | None = _u(cs.NUMBER_OF_REMAINING_SUBOPERATIONS)
    number_of_completed_suboperations: int | None = _u(cs.NUMBER_OF_COMPLETED_SUBOPERATIONS)
    number_of_failed_suboperations: int | None = _u(cs.NUMBER_OF_FAILED_SUBOPERATIONS)
    number_of_warning_suboperations: int | None = _u(cs.NUMBER_OF_WARNING_SUBOPERATIONS)


@attrs.frozen(kw_only=True)
class CGetRSP(_SubOperations):
    """C-GET-RSP (PS3.7 Table 9.3-7)."""

    command_field = cs.C_GET_RSP
    name = "C-GET-RSP"
    dimse = "C-GET"


@attrs.frozen(kw_only=True)
class CMoveRQ(_DataRequest):
    """C-MOVE-RQ (PS3.7 Table 9.3-9); the data set is the Identifier."""

    command_field = cs.C_MOVE_RQ
    name = "C-MOVE-RQ"
    dimse = "C-MOVE"

    move_destination: str = _m(cs.MOVE_DESTINATION)


@attrs.frozen(kw_only=True)
class CMoveRSP(_SubOperations):
    """C-MOVE-RSP (PS3.7 Table 9.3-10)."""

    command_field = cs.C_MOVE_RSP
    name = "C-MOVE-RSP"
    dimse = "C-MOVE"


@attrs.frozen(kw_only=True)
class CCancelRQ(Message):
    """C-CANCEL-RQ (PS3.7 Tables 9.3-5/8/11): cancels a C-FIND, C-GET or C-MOVE."""

    command_field = cs.C_CANCEL_RQ
    name = "C-CANCEL-RQ"
    dimse = "C-CANCEL"
    fixed_dataset = False

    message_id_being_responded_to: int = _m(cs.MESSAGE_ID_BEING_RESPONDED_TO)


CEchoRQ.response_type = CEchoRSP
CStoreRQ.response_type = CStoreRSP
CFindRQ.response_type = CFindRSP
CGetRQ.response_type = CGetRSP
CMoveRQ.response_type = CMoveRSP

_TYPES: tuple[type[Message], ...] = (
    CEchoRQ, CEchoRSP, CStoreRQ, CStoreRSP, CFindRQ, CFindRSP,
    CGetRQ, CGetRSP, CMoveRQ, CMoveRSP, CCancelRQ,
)  # fmt: skip
_BY_FIELD: dict[int, type[Message]] = {int(t.command_field): t for t in _TYPES}


def _prepare(cls: type[Message]) -> None:
    """Precompute the per-class tuples the hot paths iterate over."""
    wire = [(f.name, f.metadata["element"]) for f in attrs.fields(cls) if "element" in f.metadata]
    wire.sort(key=lambda item: item[1])
    cls._wire = tuple(wire)
    cls._mandatory = tuple(f.name for f in attrs.fields(cls) if f.metadata.get("m"))
    _KEYWORD.update((attr, cs.ELEMENTS[element].keyword) for attr, element in wire)
    cls._us_fields = tuple(name for name, element in wire if element in _US_ELEMENTS)


for _cls in _TYPES:
    _prepare(_cls)


def message_type(command_field: int) -> type[Message] | None:
    """The message class of a (0000,0100) Command Field value, None if not DIMSE-C."""
    return _BY_FIELD.get(command_field)


def decode_message(command: bytes | bytearray | memoryview) -> Message:
    """Decode a peer's command set into its message; ProtocolError if it is not valid."""
    elements = cs.decode(command)
    field = elements.pop(cs.COMMAND_FIELD, None)
    if not isinstance(field, int):
        raise ProtocolError("command set has no Command Field", where="command set CommandField")
    cls = _BY_FIELD.get(field)
    if cls is None:
        raise ProtocolError(
            f"Command Field 0x{field:04X} is not a DIMSE-C message",
            reason=AbortReason.UNRECOGNIZED_PDU_PARAMETER,
            where="command set CommandField",
        )
    return _from_elements(cls, elements)


def _from_elements(cls: type[_M], elements: cs.CommandSet) -> _M:
    name = cls.name
    dataset_type = elements.pop(cs.COMMAND_DATA_SET_TYPE, None)
    if not isinstance(dataset_type, int):
        raise ProtocolError("mandatory element missing", where=f"{name} CommandDataSetType")
    has_dataset = dataset_type != cs.NO_DATASET
    if cls.fixed_dataset is not None and has_dataset is not cls.fixed_dataset:
        raise ProtocolError(
            f"Command Data Set Type 0x{dataset_type:04X}: this message "
            + ("must have a data set" if cls.fixed_dataset else "cannot have a data set"),
            where=f"{name} CommandDataSetType",
        )
    kwargs: dict[str, Any] = {"has_dataset": has_dataset}
    for attr, element in cls._wire:
        value = elements.pop(element, None)
        if value is not None:
            kwargs[attr] = value
    for attr in cls._mandatory:
        if attr not in kwargs:
            raise ProtocolError("mandatory element missing", where=f"{name} {_KEYWORD[attr]}")
    if "priority" in kwargs:
        try:
            kwargs["priority"] = Priority(kwargs["priority"])
        except ValueError:
            raise ProtocolError(
                f"Priority 0x{kwargs['priority']:04X} is not LOW, MEDIUM or HIGH",
                where=f"{name} Priority",
            ) from None
    if elements:
        kwargs["extra"] = tuple(
            (
                element,
                value
                if isinstance(value, bytes)
                else cs.encode_value(element, value, strict=False),
            )
            for element, value in sorted(elements.items())
        )
    try:
        return cls(**kwargs)
    except MessageFieldError as exc:  # defensive: decode has checked what init checks
        raise ProtocolError(str(exc), where=f"{name} {exc.keyword}") from exc
