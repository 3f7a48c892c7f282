"""Association negotiation as pure functions (PS3.8 7.1 and 9.3, PS3.7 Annex D.3.3).

An A-ASSOCIATE-RQ and the acceptor's :class:`AcceptorConfig` go in; an A-ASSOCIATE-AC
with the :class:`NegotiatedAssociation` both sides will work with, or an A-ASSOCIATE-RJ,
comes out. The requestor checks the AC it received against its RQ with
:func:`negotiate_as_requestor` and gets the same association seen from its side. No I/O
and no state: the upper layer and the drivers decide when to call these.

Peer faults are :class:`~dimse.errors.ProtocolError` (the association is aborted with
invalid-PDU-parameter-value, PS3.8 9.3.1 and event 19); what the standard lets an
acceptor *decline* is declined with a context result or an A-ASSOCIATE-RJ instead.
UIDs are compared and stored without a trailing NUL/space pad; AE titles are compared
without leading/trailing spaces, which PS3.8 9.3.2 makes insignificant (case counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dimse._implementation import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dimse._negotiation_model import (
    DEFAULT_MAX_PDU_LENGTH,
    DEFAULT_TRANSFER_SYNTAXES,
    IMPLICIT_VR_LITTLE_ENDIAN,
    MAX_PRESENTATION_CONTEXTS,
    AcceptedContext,
    AcceptorConfig,
    AcceptorDecision,
    ContextResult,
    IdentityVerdict,
    NegotiatedAssociation,
    RejectedContext,
    Rejection,
    RejectReason,
    RejectResult,
    RejectSource,
    RequestedContext,
    SupportedContext,
    UserIdentityType,
    ae_key,
    all_items,
    association_rejected,
    check_ae_title,
    check_range,
    check_uid,
    check_version_name,
    first_item,
    is_uid,
    min_window,
    reject,
    uid_key,
)
from dimse.errors import ProtocolError, UsageError
from dimse.pdu import (
    APPLICATION_CONTEXT_NAME,
    AAssociateAC,
    AAssociateRQ,
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)

__all__ = [
    "DEFAULT_MAX_PDU_LENGTH",
    "DEFAULT_TRANSFER_SYNTAXES",
    "MAX_PRESENTATION_CONTEXTS",
    "AcceptedContext",
    "AcceptorConfig",
    "AcceptorDecision",
    "ContextResult",
    "IdentityVerdict",
    "NegotiatedAssociation",
    "RejectReason",
    "RejectResult",
    "RejectSource",
    "RejectedContext",
    "Rejection",
    "RequestedContext",
    "SupportedContext",
    "UserIdentityType",
    "association_rejected",
    "build_association_request",
    "negotiate_as_acceptor",
    "negotiate_as_requestor",
    "reject",
]


# -- shared checks ----------------------------------------------------------------------------


def _check_context_ids(
    contexts: Sequence[PresentationContextRQ | PresentationContextAC], where: str
) -> None:
    """Odd IDs 1..255, each once (PS3.8 9.3.2.2, 9.3.3.2); anything else is a bad PDU."""
    seen: set[int] = set()
    for item in contexts:
        cid = item.context_id
        place = f"{where} presentation context item (ID {cid})"
        if not (1 <= cid <= 255 and cid % 2 == 1):
            raise ProtocolError("presentation context ID must be odd, 1 to 255", where=place)
        if cid in seen:
            raise ProtocolError("presentation context ID used twice", where=place)
        seen.add(cid)


def _roles_by_class(
    items: Iterable[RoleSelection], where: str, *, identical_ok: bool = False
) -> dict[str, RoleSelection]:
    """One role selection item per SOP class (PS3.7 D.3.3.4); a second one is ambiguous,
    unless ``identical_ok`` and it says the same (dcmtk's dcmqrscp answers one per
    presentation context of the class)."""
    roles: dict[str, RoleSelection] = {}
    for item in items:
        uid = uid_key(item.sop_class_uid)
        if uid in roles:
            first = roles[uid]
            if identical_ok and (first.scu_role, first.scp_role) == (item.scu_role, item.scp_role):
                continue
            raise ProtocolError(
                "two SCP/SCU role selection items for one SOP class",
                where=f"{where} SCP/SCU role selection sub-item ({uid})",
            )
        roles[uid] = item
    return roles


# -- acceptor ---------------------------------------------------------------------------------


def _screen(rq: AAssociateRQ, config: AcceptorConfig) -> Rejection | None:
    """Association-level checks: ACSE provider first, then the service user, then local."""
    if not rq.protocol_version & 1:  # only bit 0 is tested (PS3.8 9.3.2)
        return reject(RejectReason.PROTOCOL_VERSION_NOT_SUPPORTED)
    if uid_key(rq.application_context) != APPLICATION_CONTEXT_NAME:
        return reject(RejectReason.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
    if config.require_called_ae_title and ae_key(rq.called_ae_title) != config.ae_title:
        return reject(RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED)
    allowed = config.calling_ae_titles
    if allowed is not None and ae_key(rq.calling_ae_title) not in allowed:
        return reject(RejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED)
    return config.admit(rq) if config.admit is not None else None


def _identity_of(info: UserInformation) -> UserIdentityRQ | None:
    """The RQ form only: an AC-form identity item in an RQ means nothing and is ignored."""
    return first_item(info, UserIdentityRQ)


def _decide_identity(
    rq: AAssociateRQ, config: AcceptorConfig
) -> tuple[Rejection | None, bytes | None]:
    """(rejection, server response) for the user identity item (PS3.7 D.3.3.7)."""
    identity = _identity_of(rq.user_information)
    if identity is None or config.on_user_identity is None:
        return None, None
    verdict = config.on_user_identity(identity, rq)
    if isinstance(verdict, bool):
        verdict = IdentityVerdict(accepted=verdict)
    if not verdict.accepted:
        why = "user identity not accepted"
        return reject(
            RejectReason.NO_REASON_GIVEN, transient=verdict.transient, explanation=why
        ), None
    if not identity.positive_response_requested:
        return None, None
    # The response is empty for usernames (PS3.7 D.3.3.7.2), the server's token otherwise.
    plain = identity.identity_type in (
        UserIdentityType.USERNAME,
        UserIdentityType.USERNAME_AND_PASSCODE,
    )
    return None, b"" if plain else verdict.server_response


def _answer_roles(
    rq: AAssociateRQ, supported: Mapping[str, SupportedContext]
) -> dict[str, RoleSelection]:
    """Answer each proposed role of a class we support, granting only what was proposed."""
    answers: dict[str, RoleSelection] = {}
    proposed = _roles_by_class(all_items(rq.user_information, RoleSelection), "A-ASSOCIATE-RQ")
    for uid, item in proposed.items():
        ours = supported.get(uid)
        if ours is not None:
            answers[uid] = RoleSelection(
                sop_class_uid=uid,
                scu_role=bool(item.scu_role) and ours.scp_role,  # they are SCU = we are SCP
                scp_role=bool(item.scp_role) and ours.scu_role,
            )
    return answers


def _answer_context(
    index: int,
    item: PresentationContextRQ,
    config: AcceptorConfig,
    supported: Mapping[str, SupportedContext],
    roles: Mapping[str, RoleSelection],
) -> tuple[ContextResult, str, bool, bool]:
    """(result, transfer syntax, our SCU role, our SCP role) for one proposed context.

    The transfer syntax is the first of *our* list that the requestor proposed: the
    acceptor's preference wins (as with dcmtk and pynetdicom acceptors), since it knows
    what it stores or decodes best. A rejected context's transfer syntax "shall not be
    tested" (PS3.8 9.3.3.2), but some decoders fail on an empty or missing one, so it
    carries the first proposed transfer syntax, as several PACS send.
    """
    proposed = [uid_key(ts) for ts in item.transfer_syntaxes]
    filler = next((ts for ts in proposed if is_uid(ts)), IMPLICIT_VR_LITTLE_ENDIAN)
    ours = supported.get(uid_key(item.abstract_syntax))
    if index >= config.max_presentation_contexts:
        return ContextResult.NO_REASON, filler, False, False
    if ours is None:
        return ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED, filler, False, False
    chosen = next((ts for ts in ours.transfer_syntaxes if ts in proposed), None)
    if chosen is None:
        return ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED, filler, False, False
    answer = roles.get(ours.abstract_syntax)
    if answer is None:  # default roles: requestor SCU, acceptor SCP
        scu, scp = False, ours.scp_role
    else:
        scu, scp = answer.scp_role, answer.scu_role
    if not (scu or scp):  # no role left that we would take: the service user declines
        return ContextResult.USER_REJECTION, filler, False, False
    return ContextResult.ACCEPTANCE, chosen, scu, scp


def _answer_extended(
    rq: AAssociateRQ,
    config: AcceptorConfig,
    supported: Mapping[str, SupportedContext],
    in_use: set[str],
) -> tuple[SOPClassExtendedNegotiation, ...]:
    """Replies for classes accepted on this association, first item per class only."""
    replies: dict[str, SOPClassExtendedNegotiation] = {}
    hook = config.on_extended_negotiation
    for item in all_items(rq.user_information, SOPClassExtendedNegotiation):
        uid = uid_key(item.sop_class_uid)
        if uid not in in_use or uid in replies:
            continue
        reply = hook(item, rq) if hook is not None else supported[uid].extended_negotiation
        if reply is not None:
            replies[uid] = SOPClassExtendedNegotiation(
                sop_class_uid=uid, service_class_application_information=bytes(reply)
            )
    return tuple(replies.values())


def negotiate_as_acceptor(rq: AAssociateRQ, config: AcceptorConfig) -> AcceptorDecision:
    """Answer an A-ASSOCIATE-RQ with an AC plus the negotiated association, or an RJ.

    Order (PS3.8 7.1.1, 9.3.4): protocol version (ACSE provider), application context
    name, called then calling AE title (service user), ``admit``, user identity; then each
    presentation context, in the order proposed. No presentation context, IDs that are
    even, out of range or repeated, or two role selections for one SOP class make the RQ
    an invalid PDU: :class:`ProtocolError` (an A-ABORT, not an RJ; PS3.8 9.3.2.2).
    """
    rejection = _screen(rq, config)
    identity_response = None
    if rejection is None:
        if not rq.presentation_contexts:
            raise ProtocolError("no presentation context item", where="A-ASSOCIATE-RQ")
        _check_context_ids(rq.presentation_contexts, "A-ASSOCIATE-RQ")
        rejection, identity_response = _decide_identity(rq, config)
    if rejection is not None:
        return AcceptorDecision(pdu=rejection.to_pdu(), rejection=rejection)

    info = rq.user_information
    supported = {c.abstract_syntax: c for c in config.contexts}
    roles = _answer_roles(rq, supported)
    results: list[PresentationContextAC] = []
    accepted: list[AcceptedContext] = []
    rejected: list[RejectedContext] = []
    for index, item in enumerate(rq.presentation_contexts):
        result, ts, scu, scp = _answer_context(index, item, config, supported, roles)
        results.append(
            PresentationContextAC(
                context_id=item.context_id, result=int(result), transfer_syntax=ts
            )
        )
        abstract = uid_key(item.abstract_syntax)
        if result is ContextResult.ACCEPTANCE:
            accepted.append(AcceptedContext(item.context_id, abstract, ts, scu, scp))
        else:
            rejected.append(RejectedContext(item.context_id, abstract, result))
    extended = _answer_extended(rq, config, supported, {c.abstract_syntax for c in accepted})

    # PS3.7 D.3.3.3: answered only if proposed, and not at all while we are synchronous,
    # which leaves both directions at the default of 1. Their invoke = our perform.
    window = first_item(info, AsynchronousOperationsWindow)
    synchronous = (config.max_operations_invoked, config.max_operations_performed) == (1, 1)
    reply_window = None
    if window is not None and not synchronous:
        reply_window = AsynchronousOperationsWindow(
            invoked=min_window(window.invoked, config.max_operations_performed),
            performed=min_window(window.performed, config.max_operations_invoked),
        )

    items: list[Any] = [
        MaximumLength(maximum_length=config.max_pdu_length),
        ImplementationClassUID(uid=config.implementation_class_uid),
    ]
    if reply_window is not None:
        items.append(reply_window)
    items.extend(roles.values())
    if config.implementation_version_name is not None:
        items.append(ImplementationVersionName(name=config.implementation_version_name))
    items.extend(extended)
    if identity_response is not None:
        items.append(UserIdentityAC(server_response=identity_response))
    ac = AAssociateAC(
        called_ae_title=rq.called_ae_title,  # echoed as received (PS3.8 9.3.3)
        calling_ae_title=rq.calling_ae_title,
        presentation_contexts=tuple(results),
        user_information=UserInformation(items=tuple(items)),
    )
    association = NegotiatedAssociation(
        is_requestor=False,
        calling_ae_title=ae_key(rq.calling_ae_title),
        called_ae_title=ae_key(rq.called_ae_title),
        accepted_contexts=tuple(accepted),
        rejected_contexts=tuple(rejected),
        our_max_pdu=config.max_pdu_length,
        peer_max_pdu=_max_length(info),  # absent declares no limit, like 0
        peer_implementation_class_uid=_implementation_uid(info),
        peer_implementation_version_name=_version_name(info),
        max_operations_invoked=reply_window.performed if reply_window else 1,
        max_operations_performed=reply_window.invoked if reply_window else 1,
        user_identity=_identity_of(info),
        user_identity_response=identity_response,
        extended_negotiation=extended,
        requested_extended_negotiation=all_items(info, SOPClassExtendedNegotiation),
        common_extended_negotiation=all_items(info, SOPClassCommonExtendedNegotiation),
    )
    return AcceptorDecision(pdu=ac, association=association)


def _max_length(info: UserInformation) -> int:
    """The sender's receive limit; an absent item declares none, like 0 (PS3.8 D.1)."""
    item = first_item(info, MaximumLength)
    return 0 if item is None else item.maximum_length


def _implementation_uid(info: UserInformation) -> str | None:
    item = first_item(info, ImplementationClassUID)
    return None if item is None else uid_key(item.uid)


def _version_name(info: UserInformation) -> str | None:
    item = first_item(info, ImplementationVersionName)
    return None if item is None else item.name


# -- requestor ---------------------------------------------------------------------------------


def _check_answers(rq: AAssociateRQ, ac: AAssociateAC) -> dict[int, PresentationContextAC]:
    """The AC's context answers by ID, each for a proposed context (PS3.8 9.3.3.2)."""
    where = "A-ASSOCIATE-AC"
    if not ac.protocol_version & 1:
        raise ProtocolError("protocol version bit 0 not set", where=where)
    _check_context_ids(ac.presentation_contexts, where)
    proposed = {item.context_id: item for item in rq.presentation_contexts}
    answers: dict[int, PresentationContextAC] = {}
    for answer in ac.presentation_contexts:
        place = f"{where} presentation context item (ID {answer.context_id})"
        offer = proposed.get(answer.context_id)
        if offer is None:
            raise ProtocolError("answers a presentation context that was not proposed", where=place)
        if answer.result not in set(ContextResult):
            raise ProtocolError(f"undefined result/reason {answer.result}", where=place)
        ts = uid_key(answer.transfer_syntax)
        offered = [uid_key(t) for t in offer.transfer_syntaxes]
        if answer.result == ContextResult.ACCEPTANCE and ts not in offered:
            raise ProtocolError(f"accepted transfer syntax {ts!r} was not proposed", where=place)
        answers[answer.context_id] = answer
    return answers


def negotiate_as_requestor(rq: AAssociateRQ, ac: AAssociateAC) -> NegotiatedAssociation:
    """Check the AC against our RQ; the association from the requestor's side.

    :class:`ProtocolError`, naming the item, when the AC answers a context ID we did not
    propose or one twice, uses an undefined result, accepts a transfer syntax not offered
    for that context, returns a role selection for a SOP class we sent none for (PS3.7
    D.3.3.4 "shall be omitted") or two that disagree, or a user identity response we
    never asked for (D.3.3.7). Tolerated, as PS3.8/PS3.7 say not to test them or the
    outcome stays unambiguous: AE titles and rejected contexts' transfer syntax (PS3.8
    9.3.3), a role granted that we did not propose (ignored, D.3.3.4), the same role
    selection repeated for a class, an unanswered context (taken as result 2),
    extended negotiation replies for classes we did not ask about (dropped).
    """
    where = "A-ASSOCIATE-AC"
    answers = _check_answers(rq, ac)
    ours = rq.user_information
    theirs = ac.user_information
    asked = _roles_by_class(all_items(ours, RoleSelection), "A-ASSOCIATE-RQ")
    granted = _roles_by_class(all_items(theirs, RoleSelection), where, identical_ok=True)
    for uid in granted:
        if uid not in asked:
            raise ProtocolError(
                "role selection for a SOP class that had none proposed",
                where=f"{where} SCP/SCU role selection sub-item ({uid})",
            )

    accepted: list[AcceptedContext] = []
    rejected: list[RejectedContext] = []
    for offer in rq.presentation_contexts:
        abstract = uid_key(offer.abstract_syntax)
        reply = answers.get(offer.context_id)
        if reply is None or reply.result != ContextResult.ACCEPTANCE:
            result = ContextResult(reply.result) if reply is not None else ContextResult.NO_REASON
            rejected.append(RejectedContext(offer.context_id, abstract, result))
            continue
        if abstract in granted:  # a role counts if we proposed it and they accepted it
            scu = asked[abstract].scu_role and granted[abstract].scu_role
            scp = asked[abstract].scp_role and granted[abstract].scp_role
        else:
            scu, scp = True, False
        ts = uid_key(reply.transfer_syntax)
        accepted.append(AcceptedContext(offer.context_id, abstract, ts, bool(scu), bool(scp)))

    identity = _identity_of(ours)
    response = first_item(theirs, UserIdentityAC)  # an RQ-form item in an AC answers nothing
    if response is not None and identity is None:
        raise ProtocolError(
            "user identity response without a user identity request",
            where=f"{where} user identity sub-item",
        )
    ext_asked = {uid_key(e.sop_class_uid) for e in all_items(ours, SOPClassExtendedNegotiation)}
    ext_agreed: dict[str, SOPClassExtendedNegotiation] = {}
    for ext in all_items(theirs, SOPClassExtendedNegotiation):
        uid = uid_key(ext.sop_class_uid)
        if uid in ext_asked and uid not in ext_agreed:
            ext_agreed[uid] = SOPClassExtendedNegotiation(
                sop_class_uid=uid,
                service_class_application_information=ext.service_class_application_information,
            )
    sync = AsynchronousOperationsWindow(invoked=1, performed=1)
    offered = first_item(ours, AsynchronousOperationsWindow) or sync
    agreed = first_item(theirs, AsynchronousOperationsWindow) or sync
    return NegotiatedAssociation(
        is_requestor=True,
        calling_ae_title=ae_key(rq.calling_ae_title),
        called_ae_title=ae_key(rq.called_ae_title),
        accepted_contexts=tuple(accepted),
        rejected_contexts=tuple(rejected),
        our_max_pdu=_max_length(ours),
        peer_max_pdu=_max_length(theirs),
        peer_implementation_class_uid=_implementation_uid(theirs),
        peer_implementation_version_name=_version_name(theirs),
        # never more than we offered, even if the acceptor answers more (PS3.7 D.3.3.3)
        max_operations_invoked=min_window(offered.invoked, agreed.invoked),
        max_operations_performed=min_window(offered.performed, agreed.performed),
        user_identity=identity,
        user_identity_response=None if response is None else response.server_response,
        extended_negotiation=tuple(ext_agreed.values()),
        requested_extended_negotiation=all_items(ours, SOPClassExtendedNegotiation),
        common_extended_negotiation=all_items(ours, SOPClassCommonExtendedNegotiation),
    )


# -- building a request ------------------------------------------------------------------------


def _role_items(wanted: Sequence[RequestedContext]) -> list[RoleSelection]:
    """One role selection per SOP class (PS3.7 D.3.3.4), proposing at least one role."""
    roles: dict[str, RoleSelection] = {}
    for c in wanted:
        if c.scu_role is None and c.scp_role is None:
            continue
        role = RoleSelection(
            sop_class_uid=c.abstract_syntax, scu_role=bool(c.scu_role), scp_role=bool(c.scp_role)
        )
        if not (role.scu_role or role.scp_role):
            raise UsageError(f"{c.abstract_syntax}: a role selection must propose SCU or SCP")
        if roles.setdefault(c.abstract_syntax, role) != role:
            raise UsageError(f"{c.abstract_syntax}: contexts propose different roles")
    return list(roles.values())


def build_association_request(
    calling_ae_title: str,
    called_ae_title: str,
    requested_contexts: Iterable[RequestedContext | str],
    *,
    max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH,
    implementation_class_uid: str = IMPLEMENTATION_CLASS_UID,
    implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME,
    asynchronous_window: tuple[int, int] | None = None,
    extended_negotiation: Mapping[str, bytes] | None = None,
    common_extended_negotiation: Iterable[SOPClassCommonExtendedNegotiation] = (),
    user_identity: UserIdentityRQ | None = None,
) -> AAssociateRQ:
    """An A-ASSOCIATE-RQ proposing ``requested_contexts`` as IDs 1, 3, 5, ...

    A plain string proposes that abstract syntax with :data:`DEFAULT_TRANSFER_SYNTAXES`.
    ``asynchronous_window`` is (invoked, performed), 0 meaning unlimited; ``None`` sends no
    window item (synchronous). Role selection and extended negotiation go out once per SOP
    class, which must be among the requested abstract syntaxes (PS3.7 D.3.3.4-D.3.3.6).
    """
    calling = check_ae_title(calling_ae_title, "calling AE title")
    called = check_ae_title(called_ae_title, "called AE title")
    wanted = [
        c if isinstance(c, RequestedContext) else RequestedContext(c) for c in requested_contexts
    ]
    if not wanted:
        raise UsageError("an association request needs at least one presentation context")
    if len(wanted) > MAX_PRESENTATION_CONTEXTS:
        raise UsageError(
            f"{len(wanted)} presentation contexts requested; odd IDs 1..255 allow "
            f"{MAX_PRESENTATION_CONTEXTS}"
        )
    check_range(max_pdu_length, 0, 0xFFFFFFFF, "max_pdu_length")
    uid = check_uid(implementation_class_uid, "implementation class UID")
    check_version_name(implementation_version_name)
    extended = {
        check_uid(k, "extended negotiation SOP class"): v
        for k, v in (extended_negotiation or {}).items()
    }
    common = tuple(common_extended_negotiation)
    abstracts = {c.abstract_syntax for c in wanted}
    unrequested = sorted({*extended, *(uid_key(i.sop_class_uid) for i in common)} - abstracts)
    if unrequested:
        raise UsageError(f"extended negotiation for SOP classes not requested: {unrequested}")

    items: list[Any] = [
        MaximumLength(maximum_length=max_pdu_length),
        ImplementationClassUID(uid=uid),
    ]
    if asynchronous_window is not None:
        invoked, performed = asynchronous_window
        check_range(invoked, 0, 0xFFFF, "operations invoked")
        check_range(performed, 0, 0xFFFF, "operations performed")
        items.append(AsynchronousOperationsWindow(invoked=invoked, performed=performed))
    items.extend(_role_items(wanted))
    if implementation_version_name is not None:
        items.append(ImplementationVersionName(name=implementation_version_name))
    items.extend(
        SOPClassExtendedNegotiation(sop_class_uid=k, service_class_application_information=v)
        for k, v in extended.items()
    )
    items.extend(common)
    if user_identity is not None:
        items.append(user_identity)
    return AAssociateRQ(
        called_ae_title=called,
        calling_ae_title=calling,
        presentation_contexts=tuple(
            PresentationContextRQ(
                context_id=2 * i + 1,
                abstract_syntax=c.abstract_syntax,
                transfer_syntaxes=c.transfer_syntaxes,
            )
            for i, c in enumerate(wanted)
        ),
        user_information=UserInformation(items=tuple(items)),
    )
