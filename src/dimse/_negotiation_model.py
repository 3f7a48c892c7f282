"""The vocabulary of :mod:`dimse.negotiation`: result codes, configuration, outcomes.

Kept apart from the negotiation logic so each stays readable; import these names from
:mod:`dimse.negotiation`, which re-exports them. The small helpers here normalise what
PS3.8 says is not significant: a UID's trailing NUL pad, spaces around an AE title.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum, IntEnum
from typing import TypeVar

from attrs import field, frozen

from dimse._implementation import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dimse.errors import AssociationRejected, UsageError
from dimse.pdu import (
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityRQ,
    UserInformation,
)

MAX_PRESENTATION_CONTEXTS = 128
"""Odd IDs 1..255 leave room for 128 contexts (PS3.8 9.3.2.2)."""
DEFAULT_MAX_PDU_LENGTH = 16384
"""Our advertised maximum P-DATA-TF length unless configured (0 = no limit)."""
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DEFAULT_TRANSFER_SYNTAXES = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)
"""Explicit first (keeps the VRs of private elements); Implicit is the PS3.5 10.1 default."""


class ContextResult(IntEnum):
    """Presentation context Result/Reason (PS3.8 Table 9-18)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2  # "no-reason (provider rejection)"
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


class RejectResult(IntEnum):
    """A-ASSOCIATE-RJ Result (PS3.8 Table 9-21)."""

    PERMANENT = 1
    TRANSIENT = 2


class RejectSource(IntEnum):
    """A-ASSOCIATE-RJ Source (PS3.8 Table 9-21)."""

    SERVICE_USER = 1
    SERVICE_PROVIDER_ACSE = 2
    SERVICE_PROVIDER_PRESENTATION = 3


class RejectReason(Enum):
    """A-ASSOCIATE-RJ Reason/Diag; its meaning depends on the source, so both are the value."""

    NO_REASON_GIVEN = (1, 1)
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = (1, 2)
    CALLING_AE_TITLE_NOT_RECOGNIZED = (1, 3)
    CALLED_AE_TITLE_NOT_RECOGNIZED = (1, 7)
    PROVIDER_NO_REASON_GIVEN = (2, 1)
    PROTOCOL_VERSION_NOT_SUPPORTED = (2, 2)
    TEMPORARY_CONGESTION = (3, 1)
    LOCAL_LIMIT_EXCEEDED = (3, 2)

    @property
    def source(self) -> RejectSource:
        return RejectSource(self.value[0])

    @property
    def code(self) -> int:
        """The Reason/Diag byte."""
        return int(self.value[1])

    @property
    def description(self) -> str:
        """The standard's wording, e.g. "calling-AE-title-not-recognized"."""
        words = self.name.lower().replace("provider_", "").replace("ae_title", "AE-title")
        return words.replace("_", "-")


class UserIdentityType(IntEnum):
    """User-Identity-Type (PS3.7 Table D.3-14)."""

    USERNAME = 1
    USERNAME_AND_PASSCODE = 2
    KERBEROS = 3
    SAML = 4
    JWT = 5


@frozen
class Rejection:
    """Why an association is refused; :meth:`to_pdu` is what goes on the wire."""

    reason: RejectReason
    result: RejectResult = RejectResult.PERMANENT
    explanation: str = ""

    def to_pdu(self) -> AAssociateRJ:
        return AAssociateRJ(
            result=int(self.result), source=int(self.reason.source), reason=self.reason.code
        )


def reject(
    reason: RejectReason, *, transient: bool | None = None, explanation: str = ""
) -> Rejection:
    """A :class:`Rejection`, transient by default only for presentation-provider reasons.

    Retrying later helps only when a provider resource was short (congestion, a local
    limit); the other reasons are properties of the request itself.
    """
    if transient is None:
        transient = reason.source is RejectSource.SERVICE_PROVIDER_PRESENTATION
    result = RejectResult.TRANSIENT if transient else RejectResult.PERMANENT
    return Rejection(reason=reason, result=result, explanation=explanation)


def association_rejected(rj: AAssociateRJ) -> AssociationRejected:
    """The exception a requestor raises for a received A-ASSOCIATE-RJ, reason spelled out."""
    try:
        text = RejectReason((rj.source, rj.reason)).description
    except ValueError:
        text = "reserved"
    return AssociationRejected(rj.result, rj.source, rj.reason, text)


_T = TypeVar("_T")


def first_item(info: UserInformation, cls: type[_T]) -> _T | None:
    """The first sub-item of a type; PS3.7 allows one, a repeat is ignored."""
    return next((i for i in info.items if isinstance(i, cls)), None)


def all_items(info: UserInformation, cls: type[_T]) -> tuple[_T, ...]:
    return tuple(i for i in info.items if isinstance(i, cls))


# -- small checks -------------------------------------------------------------------------


def uid_key(text: str) -> str:
    """A UID as compared and stored: decoded PDUs keep a trailing NUL pad."""
    return text.rstrip("\0 ")


def ae_key(text: str) -> str:
    """Leading and trailing spaces of an AE title are not significant (PS3.8 9.3.2)."""
    return text.strip(" ")


def is_uid(text: str) -> bool:
    return 0 < len(text) <= 64 and all(p.isdigit() and p.isascii() for p in text.split("."))


def min_window(a: int, b: int) -> int:
    """The smaller of two operation windows where 0 means unlimited (PS3.7 D.3.3.3)."""
    return b if a == 0 else a if b == 0 else min(a, b)


def check_ae_title(value: str, what: str) -> str:
    """1-16 significant ISO 646 characters without backslash (PS3.5 AE, PS3.8 9.3.2)."""
    stripped = ae_key(value)
    if not 0 < len(stripped) <= 16 or any(c == "\\" or not " " <= c <= "~" for c in stripped):
        raise UsageError(f"{what} must be 1 to 16 printable characters, got {value!r}")
    return stripped


def check_uid(value: str, what: str) -> str:
    if not isinstance(value, str) or not is_uid(uid_key(value)):
        raise UsageError(f"{what} is not a UID: {value!r}")
    return uid_key(value)


def check_range(value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        raise UsageError(f"{what} must be in {low}..{high}, got {value}")


def check_version_name(name: str | None) -> None:
    if name is not None and not (
        0 < len(name) <= 16 and all(c != "\\" and " " <= c <= "~" for c in name)
    ):
        raise UsageError(f"implementation version name must be 1-16 ISO 646 chars: {name!r}")


def abstract_syntax_uid(value: str) -> str:
    return check_uid(value, "abstract syntax")


def transfer_syntax_uids(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):  # a lone UID would iterate as characters
        raise UsageError(f"transfer syntaxes must be a sequence of UIDs, got {values!r}")
    uids = tuple(check_uid(v, "transfer syntax") for v in values)
    if not uids:
        raise UsageError("at least one transfer syntax is needed")
    return uids


# -- acceptor configuration ------------------------------------------------------------------


@frozen
class SupportedContext:
    """One SOP class we accept: transfer syntaxes in *our* preference order, and our roles.

    ``scp_role``/``scu_role`` are the roles *we* take. Without a role selection item the
    requestor is SCU and we are SCP (PS3.7 D.3.3.4), so a class with ``scp_role=False`` is
    accepted only when the requestor proposes its SCP role (C-GET sub-operations, storage
    commitment reports); otherwise it is a user rejection. ``extended_negotiation`` is our
    reply to the requestor's SOP class extended negotiation item (PS3.7 D.3.3.5), if any.
    """

    abstract_syntax: str = field(converter=abstract_syntax_uid)
    transfer_syntaxes: tuple[str, ...] = field(
        default=DEFAULT_TRANSFER_SYNTAXES, converter=transfer_syntax_uids
    )
    scp_role: bool = True
    scu_role: bool = False
    extended_negotiation: bytes | None = None


@frozen
class IdentityVerdict:
    """A user identity decision; ``server_response`` is sent only if one was requested."""

    accepted: bool
    server_response: bytes = b""
    transient: bool = False  # when refused: may the requestor retry later?


def _contexts(values: Iterable[SupportedContext]) -> tuple[SupportedContext, ...]:
    contexts = tuple(values)
    uids = [c.abstract_syntax for c in contexts]
    if len(set(uids)) != len(uids):
        raise UsageError("an abstract syntax is configured twice")
    return contexts


def _callers(values: Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    return frozenset(check_ae_title(v, "allowed calling AE title") for v in values)


def _our_title(value: str) -> str:
    return check_ae_title(value, "AE title")


@frozen
class AcceptorConfig:
    """What an acceptor supports and how it decides (PS3.8 7.1.1, PS3.7 D.3.3).

    * ``calling_ae_titles``: the peers we serve; ``None`` admits any calling AE title.
    * ``max_pdu_length``: our maximum P-DATA-TF receive length, 0 for no limit.
    * ``max_presentation_contexts``: contexts beyond this many (in RQ order) get result 2,
      "no-reason (provider rejection)", and the rest of the association proceeds.
    * ``max_operations_invoked``/``_performed``: our asynchronous window; 1/1
      (synchronous) means the window item is not answered at all.
    * ``admit``: may refuse before anything is negotiated, e.g. with
      ``reject(RejectReason.TEMPORARY_CONGESTION)`` at the driver's association limit.
    * ``on_extended_negotiation``: our reply to a SOP class extended negotiation item of
      a SOP class accepted on this association (``None``: no reply); without it the
      reply is that class's configured ``extended_negotiation``.
    * ``on_user_identity``: judges a user identity item; ``False`` or a refusing verdict
      rejects (service-user, no-reason-given; PS3.15 B.4-B.6 "shall be rejected").
      Without it identities are accepted silently, as by an acceptor not supporting it.
    """

    ae_title: str = field(converter=_our_title)
    contexts: tuple[SupportedContext, ...] = field(default=(), converter=_contexts)
    require_called_ae_title: bool = False
    calling_ae_titles: frozenset[str] | None = field(default=None, converter=_callers)
    max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH
    implementation_class_uid: str = IMPLEMENTATION_CLASS_UID
    implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME
    max_presentation_contexts: int = MAX_PRESENTATION_CONTEXTS
    max_operations_invoked: int = 1
    max_operations_performed: int = 1
    admit: Callable[[AAssociateRQ], Rejection | None] | None = None
    on_extended_negotiation: (
        Callable[[SOPClassExtendedNegotiation, AAssociateRQ], bytes | None] | None
    ) = None
    on_user_identity: Callable[[UserIdentityRQ, AAssociateRQ], IdentityVerdict | bool] | None = None

    def __attrs_post_init__(self) -> None:
        check_range(self.max_pdu_length, 0, 0xFFFFFFFF, "max_pdu_length")
        check_range(self.max_presentation_contexts, 1, MAX_PRESENTATION_CONTEXTS, "max contexts")
        check_range(self.max_operations_invoked, 0, 0xFFFF, "max_operations_invoked")
        check_range(self.max_operations_performed, 0, 0xFFFF, "max_operations_performed")
        check_uid(self.implementation_class_uid, "implementation class UID")
        check_version_name(self.implementation_version_name)


# -- the outcome -------------------------------------------------------------------------------


@frozen
class AcceptedContext:
    """An accepted presentation context and the roles *we* may take on it.

    Roles pair up (PS3.7 D.3.3.4): the peer is SCP exactly where we are SCU and the other
    way round, hence the ``peer_*`` properties.
    """

    context_id: int
    abstract_syntax: str
    transfer_syntax: str
    scu_role: bool
    scp_role: bool

    @property
    def peer_scu_role(self) -> bool:
        return self.scp_role

    @property
    def peer_scp_role(self) -> bool:
        return self.scu_role


@frozen
class RejectedContext:
    context_id: int
    abstract_syntax: str
    result: ContextResult


@frozen
class NegotiatedAssociation:
    """What both sides agreed, from *our* side (``is_requestor`` says which that is).

    ``peer_max_pdu`` bounds the P-DATA-TF PDUs we send, ``our_max_pdu`` those we accept,
    0 meaning no limit (PS3.8 D.1). ``max_operations_invoked`` is how many operations we
    may have outstanding, ``max_operations_performed`` how many the peer may (0 =
    unlimited). ``extended_negotiation`` holds the acceptor's replies (the agreement);
    ``requested_extended_negotiation`` and ``common_extended_negotiation`` the requestor's
    items. ``user_identity_response`` is the acceptor's server response, ``None`` if none.
    """

    is_requestor: bool
    calling_ae_title: str
    called_ae_title: str
    accepted_contexts: tuple[AcceptedContext, ...]
    rejected_contexts: tuple[RejectedContext, ...]
    our_max_pdu: int
    peer_max_pdu: int
    peer_implementation_class_uid: str | None = None
    peer_implementation_version_name: str | None = None
    max_operations_invoked: int = 1
    max_operations_performed: int = 1
    user_identity: UserIdentityRQ | None = None
    user_identity_response: bytes | None = None
    extended_negotiation: tuple[SOPClassExtendedNegotiation, ...] = ()
    requested_extended_negotiation: tuple[SOPClassExtendedNegotiation, ...] = ()
    common_extended_negotiation: tuple[SOPClassCommonExtendedNegotiation, ...] = ()
    # Indexes of accepted_contexts, looked up for every message (derived, not compared).
    _by_id: dict[int, AcceptedContext] = field(init=False, repr=False, eq=False)
    _by_class: dict[str, tuple[AcceptedContext, ...]] = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        by_class: dict[str, list[AcceptedContext]] = {}
        for context in self.accepted_contexts:
            by_class.setdefault(context.abstract_syntax, []).append(context)
        object.__setattr__(self, "_by_id", {c.context_id: c for c in self.accepted_contexts})
        object.__setattr__(self, "_by_class", {k: tuple(v) for k, v in by_class.items()})

    @property
    def local_ae_title(self) -> str:
        return self.calling_ae_title if self.is_requestor else self.called_ae_title

    @property
    def peer_ae_title(self) -> str:
        return self.called_ae_title if self.is_requestor else self.calling_ae_title

    def context_by_id(self, context_id: int) -> AcceptedContext | None:
        return self._by_id.get(context_id)

    def contexts_for(self, abstract_syntax: str) -> tuple[AcceptedContext, ...]:
        """Accepted contexts of one SOP class, in the order they were proposed."""
        return self._by_class.get(uid_key(abstract_syntax), ())

    def context_for(self, abstract_syntax: str, transfer_syntax: str) -> AcceptedContext | None:
        """The first accepted context with exactly this abstract and transfer syntax."""
        ts = uid_key(transfer_syntax)
        return next(
            (c for c in self.contexts_for(abstract_syntax) if c.transfer_syntax == ts), None
        )

    def extended_negotiation_for(self, sop_class_uid: str) -> bytes | None:
        """The agreed service-class application information of a SOP class, if any."""
        uid = uid_key(sop_class_uid)
        for item in self.extended_negotiation:
            if uid_key(item.sop_class_uid) == uid:
                return item.service_class_application_information
        return None


@frozen
class AcceptorDecision:
    """The answer to an A-ASSOCIATE-RQ: an AC with its association, or an RJ and why."""

    pdu: AAssociateAC | AAssociateRJ
    association: NegotiatedAssociation | None = None
    rejection: Rejection | None = None

    @property
    def accepted(self) -> bool:
        return self.association is not None


@frozen
class RequestedContext:
    """A context to propose. Both roles ``None``: no role selection item (we are SCU);
    otherwise a role left ``None`` is not proposed (PS3.7 D.3.3.4)."""

    abstract_syntax: str = field(converter=abstract_syntax_uid)
    transfer_syntaxes: tuple[str, ...] = field(
        default=DEFAULT_TRANSFER_SYNTAXES, converter=transfer_syntax_uids
    )
    scu_role: bool | None = None
    scp_role: bool | None = None
