"""Association negotiation: PS3.8 7.1/9.3 and PS3.7 D.3.3 outcomes, both sides."""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimse._implementation import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dimse.errors import AssociationRejected, ProtocolError, UsageError
from dimse.negotiation import (
    MAX_PRESENTATION_CONTEXTS,
    AcceptedContext,
    AcceptorConfig,
    ContextResult,
    IdentityVerdict,
    NegotiatedAssociation,
    Rejection,
    RejectReason,
    RejectResult,
    RejectSource,
    RequestedContext,
    SupportedContext,
    UserIdentityType,
    association_rejected,
    build_association_request,
    negotiate_as_acceptor,
    negotiate_as_requestor,
    reject,
)
from dimse.pdu import (
    AAssociateAC,
    AAssociateRJ,
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
    decode,
)

VERIFICATION = "1.2.840.10008.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"
GET = "1.2.840.10008.5.1.4.1.2.2.3"
IVRLE = "1.2.840.10008.1.2"
EVRLE = "1.2.840.10008.1.2.1"
JPEG = "1.2.840.10008.1.2.4.50"
RLE = "1.2.840.10008.1.2.5"
PEER_IMPL = "1.2.3.4.5"

Context = tuple[int, str, tuple[str, ...]]
T = TypeVar("T")


def peer(cls: type[T], *args: Any, **kwargs: Any) -> T:
    """Built like the decoder builds it: without the constructors' local-use checks."""
    with attrs.validators.disabled():
        return cls(*args, **kwargs)


def first(info: UserInformation, cls: type[T]) -> T | None:
    return next((i for i in info.items if isinstance(i, cls)), None)


def every(info: UserInformation, cls: type[T]) -> tuple[T, ...]:
    return tuple(i for i in info.items if isinstance(i, cls))


def pc_ac(context_id: int, result: int, transfer_syntax: str) -> PresentationContextAC:
    return peer(PresentationContextAC, context_id, result, transfer_syntax)


def make_rq(
    *contexts: Context,
    items: tuple[Any, ...] = (),
    called: str = "STORESCP",
    calling: str = "STORESCU",
    max_length: int | None = 16384,
    **kwargs: Any,
) -> AAssociateRQ:
    head: list[Any] = [] if max_length is None else [MaximumLength(maximum_length=max_length)]
    head.append(ImplementationClassUID(uid=PEER_IMPL))
    return peer(
        AAssociateRQ,
        called_ae_title=called,
        calling_ae_title=calling,
        presentation_contexts=tuple(
            peer(PresentationContextRQ, context_id=i, abstract_syntax=a, transfer_syntaxes=t)
            for i, a, t in contexts
        ),
        user_information=UserInformation(items=(*head, *items)),
        **kwargs,
    )


def make_config(*contexts: SupportedContext | str, **kwargs: Any) -> AcceptorConfig:
    supported = [c if isinstance(c, SupportedContext) else SupportedContext(c) for c in contexts]
    return AcceptorConfig(ae_title=kwargs.pop("ae_title", "STORESCP"), contexts=supported, **kwargs)


def accept(rq: AAssociateRQ, config: AcceptorConfig) -> tuple[AAssociateAC, NegotiatedAssociation]:
    decision = negotiate_as_acceptor(rq, config)
    assert decision.accepted, decision.rejection
    assert isinstance(decision.pdu, AAssociateAC)
    assert decision.association is not None
    return decision.pdu, decision.association


def rj(rq: AAssociateRQ, config: AcceptorConfig) -> tuple[int, int, int]:
    decision = negotiate_as_acceptor(rq, config)
    assert not decision.accepted and decision.association is None
    assert isinstance(decision.pdu, AAssociateRJ)
    return decision.pdu.result, decision.pdu.source, decision.pdu.reason


def ac_results(ac: AAssociateAC) -> dict[int, tuple[int, str]]:
    return {pc.context_id: (pc.result, pc.transfer_syntax) for pc in ac.presentation_contexts}


ECHO = (1, VERIFICATION, (IVRLE,))


# -- association-level results and reasons (PS3.8 Table 9-21) ---------------------------


def test_reject_reason_table() -> None:
    assert {r.name: (int(r.source), r.code) for r in RejectReason} == {
        "NO_REASON_GIVEN": (1, 1),
        "APPLICATION_CONTEXT_NAME_NOT_SUPPORTED": (1, 2),
        "CALLING_AE_TITLE_NOT_RECOGNIZED": (1, 3),
        "CALLED_AE_TITLE_NOT_RECOGNIZED": (1, 7),
        "PROVIDER_NO_REASON_GIVEN": (2, 1),
        "PROTOCOL_VERSION_NOT_SUPPORTED": (2, 2),
        "TEMPORARY_CONGESTION": (3, 1),
        "LOCAL_LIMIT_EXCEEDED": (3, 2),
    }
    assert (RejectResult.PERMANENT, RejectResult.TRANSIENT) == (1, 2)
    assert [int(s) for s in RejectSource] == [1, 2, 3]


@pytest.mark.parametrize(
    ("reason", "transient", "expected"),
    [
        (RejectReason.NO_REASON_GIVEN, None, (1, 1, 1)),
        (RejectReason.PROVIDER_NO_REASON_GIVEN, None, (1, 2, 1)),
        (RejectReason.TEMPORARY_CONGESTION, None, (2, 3, 1)),
        (RejectReason.LOCAL_LIMIT_EXCEEDED, None, (2, 3, 2)),
        (RejectReason.LOCAL_LIMIT_EXCEEDED, False, (1, 3, 2)),
        (RejectReason.NO_REASON_GIVEN, True, (2, 1, 1)),
    ],
)
def test_admit_hook_rejects(
    reason: RejectReason, transient: bool | None, expected: tuple[int, int, int]
) -> None:
    seen: list[AAssociateRQ] = []

    def admit(rq: AAssociateRQ) -> Rejection | None:
        seen.append(rq)
        return reject(reason, transient=transient, explanation="busy")

    rq = make_rq(ECHO)
    config = make_config(VERIFICATION, admit=admit)
    assert rj(rq, config) == expected
    assert seen == [rq]
    decision = negotiate_as_acceptor(rq, config)
    assert decision.rejection is not None and decision.rejection.explanation == "busy"


def test_admit_hook_may_admit() -> None:
    accept(make_rq(ECHO), make_config(VERIFICATION, admit=lambda rq: None))


@pytest.mark.parametrize(
    ("version", "ok"), [(1, True), (3, True), (0x8001, True), (2, False), (0, False)]
)
def test_protocol_version_only_bit_0_is_tested(version: int, ok: bool) -> None:
    rq = make_rq(ECHO, protocol_version=version)
    if ok:
        accept(rq, make_config(VERIFICATION))
    else:
        assert rj(rq, make_config(VERIFICATION)) == (1, 2, 2)


def test_application_context_name() -> None:
    config = make_config(VERIFICATION)
    assert rj(make_rq(ECHO, application_context="1.2.840.10008.3.1.1.2"), config) == (1, 1, 2)
    accept(make_rq(ECHO, application_context="1.2.840.10008.3.1.1.1\0"), config)


def test_called_ae_title() -> None:
    strict = make_config(VERIFICATION, require_called_ae_title=True)
    assert rj(make_rq(ECHO, called="OTHER"), strict) == (1, 1, 7)
    assert rj(make_rq(ECHO, called="storescp"), strict) == (1, 1, 7)  # case is significant
    accept(make_rq(ECHO, called="  STORESCP  "), strict)  # spaces are not
    accept(make_rq(ECHO, called="OTHER"), make_config(VERIFICATION))  # not required
    padded = make_config(VERIFICATION, ae_title=" STORESCP ", require_called_ae_title=True)
    accept(make_rq(ECHO, called="STORESCP"), padded)


def test_calling_ae_title() -> None:
    config = make_config(VERIFICATION, calling_ae_titles=["STORESCU", " MODALITY "])
    assert rj(make_rq(ECHO, calling="INTRUDER"), config) == (1, 1, 3)
    accept(make_rq(ECHO, calling=" STORESCU"), config)
    accept(make_rq(ECHO, calling="MODALITY"), config)
    accept(make_rq(ECHO, calling="ANYONE"), make_config(VERIFICATION))


def test_check_order_provider_before_user() -> None:
    config = make_config(VERIFICATION, require_called_ae_title=True, calling_ae_titles=["X"])
    bad = make_rq(ECHO, called="NO", calling="NO", protocol_version=2)
    assert rj(bad, config) == (1, 2, 2)
    assert rj(make_rq(ECHO, called="NO", calling="NO"), config) == (1, 1, 7)


def test_rejection_is_reported_as_exception() -> None:
    exc = association_rejected(AAssociateRJ(result=2, source=3, reason=1))
    assert isinstance(exc, AssociationRejected)
    assert (exc.result, exc.source, exc.reason) == (2, 3, 1)
    assert "temporary-congestion" in str(exc)
    assert RejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED.description == (
        "calling-AE-title-not-recognized"
    )
    assert RejectReason.PROVIDER_NO_REASON_GIVEN.description == "no-reason-given"
    assert "reserved" in str(association_rejected(AAssociateRJ(result=1, source=1, reason=5)))


# -- presentation contexts (PS3.8 Table 9-18) --------------------------------------------


def test_every_context_result() -> None:
    config = make_config(
        VERIFICATION,
        SupportedContext(CT, (JPEG,)),
        SupportedContext(FIND, scp_role=False, scu_role=True),
        max_presentation_contexts=4,
    )
    rq = make_rq(
        (1, VERIFICATION, (IVRLE,)),
        (3, CT, (IVRLE, EVRLE)),
        (5, MR, (EVRLE,)),
        (7, FIND, (IVRLE,)),
        (9, VERIFICATION, (IVRLE,)),
    )
    ac, assoc = accept(rq, config)
    assert ac_results(ac) == {
        1: (ContextResult.ACCEPTANCE, IVRLE),
        3: (ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED, IVRLE),
        5: (ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED, EVRLE),
        7: (ContextResult.USER_REJECTION, IVRLE),
        9: (ContextResult.NO_REASON, IVRLE),
    }
    assert [int(r) for r in ContextResult] == [0, 1, 2, 3, 4]
    assert [(c.context_id, c.result) for c in assoc.rejected_contexts] == [
        (3, ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED),
        (5, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED),
        (7, ContextResult.USER_REJECTION),
        (9, ContextResult.NO_REASON),
    ]
    assert assoc.accepted_contexts == (AcceptedContext(1, VERIFICATION, IVRLE, False, True),)


def test_all_rejected_is_still_an_ac() -> None:
    ac, assoc = accept(make_rq((1, MR, (IVRLE,))), make_config(VERIFICATION))
    assert ac_results(ac) == {1: (3, IVRLE)}
    assert assoc.accepted_contexts == ()


@pytest.mark.parametrize(
    ("ours", "proposed", "chosen"),
    [
        ((JPEG, EVRLE, IVRLE), (IVRLE, EVRLE), EVRLE),
        ((IVRLE, EVRLE), (EVRLE, IVRLE), IVRLE),
        ((RLE, JPEG), (IVRLE, EVRLE, JPEG, RLE), RLE),
        ((EVRLE,), (JPEG, EVRLE + "\0"), EVRLE),
    ],
)
def test_transfer_syntax_by_acceptor_preference(
    ours: tuple[str, ...], proposed: tuple[str, ...], chosen: str
) -> None:
    ac, assoc = accept(make_rq((1, CT, proposed)), make_config(SupportedContext(CT, ours)))
    assert ac_results(ac) == {1: (0, chosen)}
    assert assoc.accepted_contexts[0].transfer_syntax == chosen


def test_uid_padding_is_not_significant() -> None:
    _, assoc = accept(make_rq((1, CT + "\0", (IVRLE + "\0",))), make_config(CT))
    assert assoc.context_for(CT, IVRLE) == AcceptedContext(1, CT, IVRLE, False, True)


def test_same_abstract_syntax_in_several_contexts() -> None:
    rq = make_rq((1, CT, (JPEG,)), (3, CT, (EVRLE,)), (5, CT, (IVRLE,)))
    _, assoc = accept(rq, make_config(SupportedContext(CT, (JPEG, IVRLE))))
    assert [c.context_id for c in assoc.contexts_for(CT)] == [1, 5]
    assert assoc.context_for(CT, IVRLE) is assoc.context_by_id(5)
    assert assoc.context_for(CT, EVRLE) is None
    assert assoc.context_by_id(3) is None
    assert assoc.contexts_for(MR) == ()


def test_128_contexts_accepted() -> None:
    rq = build_association_request("SCU", "STORESCP", [VERIFICATION] * MAX_PRESENTATION_CONTEXTS)
    ids = [pc.context_id for pc in rq.presentation_contexts]
    assert ids == list(range(1, 256, 2))
    ac, assoc = accept(rq, make_config(VERIFICATION))
    assert len(assoc.accepted_contexts) == 128
    mine = negotiate_as_requestor(rq, ac).accepted_contexts
    assert [(c.context_id, c.scu_role) for c in mine] == [(i, True) for i in ids]


def test_129_contexts_refused_locally() -> None:
    with pytest.raises(UsageError, match="129"):
        build_association_request("SCU", "SCP", [VERIFICATION] * 129)


def test_max_presentation_contexts_limits_in_rq_order() -> None:
    rq = make_rq((7, CT, (IVRLE,)), (1, CT, (IVRLE,)), (3, CT, (IVRLE,)))
    ac, _ = accept(rq, make_config(CT, max_presentation_contexts=2))
    assert {i: r for i, (r, _) in ac_results(ac).items()} == {7: 0, 1: 0, 3: 2}


@pytest.mark.parametrize(
    ("ids", "bad"), [((1, 2), 2), ((1, 3, 1), 1), ((0,), 0), ((255, 5, 5), 5), ((1, 256), 256)]
)
def test_bad_context_ids_are_protocol_errors(ids: tuple[int, ...], bad: int) -> None:
    rq = make_rq(*[(i, VERIFICATION, (IVRLE,)) for i in ids])
    with pytest.raises(ProtocolError) as info:
        negotiate_as_acceptor(rq, make_config(VERIFICATION))
    assert f"ID {bad})" in info.value.where
    assert "A-ASSOCIATE-RQ" in info.value.where


def test_rq_without_contexts_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        negotiate_as_acceptor(make_rq(), make_config(VERIFICATION))


def test_rejected_before_contexts_are_looked_at() -> None:
    # An RJ on AE title needs no valid contexts: the title check comes first.
    rq = make_rq((2, VERIFICATION, (IVRLE,)), calling="NO")
    assert rj(rq, make_config(VERIFICATION, calling_ae_titles=["YES"])) == (1, 1, 3)


# -- SCP/SCU role selection (PS3.7 D.3.3.4) ----------------------------------------------

# (requestor proposal, our scp_role, our scu_role) ->
#   (answer item or None, context result, requestor may be SCU, requestor may be SCP)
ACCEPTOR_ROLES: dict[tuple[tuple[int, int] | None, bool, bool], tuple[Any, int, bool, bool]] = {
    (None, True, False): (None, 0, True, False),
    (None, True, True): (None, 0, True, False),
    (None, False, True): (None, 1, False, False),
    (None, False, False): (None, 1, False, False),
    ((1, 0), True, False): ((1, 0), 0, True, False),
    ((1, 0), True, True): ((1, 0), 0, True, False),
    ((1, 0), False, True): ((0, 0), 1, False, False),
    ((1, 0), False, False): ((0, 0), 1, False, False),
    ((0, 1), True, False): ((0, 0), 1, False, False),
    ((0, 1), True, True): ((0, 1), 0, False, True),
    ((0, 1), False, True): ((0, 1), 0, False, True),
    ((0, 1), False, False): ((0, 0), 1, False, False),
    ((1, 1), True, False): ((1, 0), 0, True, False),
    ((1, 1), True, True): ((1, 1), 0, True, True),
    ((1, 1), False, True): ((0, 1), 0, False, True),
    ((1, 1), False, False): ((0, 0), 1, False, False),
    ((0, 0), True, False): ((0, 0), 1, False, False),
    ((0, 0), True, True): ((0, 0), 1, False, False),
    ((0, 0), False, True): ((0, 0), 1, False, False),
    ((0, 0), False, False): ((0, 0), 1, False, False),
}


@pytest.mark.parametrize(("key", "outcome"), list(ACCEPTOR_ROLES.items()))
def test_acceptor_role_truth_table(
    key: tuple[tuple[int, int] | None, bool, bool], outcome: tuple[Any, int, bool, bool]
) -> None:
    proposal, scp_role, scu_role = key
    answer, result, req_scu, req_scp = outcome
    items = () if proposal is None else (RoleSelection(CT, bool(proposal[0]), bool(proposal[1])),)
    rq = make_rq((1, CT, (IVRLE,)), items=items)
    config = make_config(SupportedContext(CT, scp_role=scp_role, scu_role=scu_role))
    ac, assoc = accept(rq, config)
    roles = every(ac.user_information, RoleSelection)
    if answer is None:
        assert roles == ()
    else:
        assert [(r.sop_class_uid, r.scu_role, r.scp_role) for r in roles] == [
            (CT, bool(answer[0]), bool(answer[1]))
        ]
    assert ac_results(ac)[1][0] == result
    if result == 0:
        (context,) = assoc.accepted_contexts
        # the acceptor is SCP where the requestor is SCU, and the other way round
        assert (context.scp_role, context.scu_role) == (req_scu, req_scp)
        assert (context.peer_scu_role, context.peer_scp_role) == (req_scu, req_scp)
        mine = negotiate_as_requestor(rq, ac).accepted_contexts[0]
        assert (mine.scu_role, mine.scp_role) == (req_scu, req_scp)


def role(uid: str, flags: tuple[int, int]) -> RoleSelection:
    return RoleSelection(uid, bool(flags[0]), bool(flags[1]))


def _requestor_roles(
    proposal: tuple[int, int], answer: tuple[int, int] | None
) -> tuple[bool, bool]:
    rq = make_rq((1, CT, (IVRLE,)), items=(role(CT, proposal),))
    items: tuple[Any, ...] = () if answer is None else (role(CT, answer),)
    ac = peer(
        AAssociateAC,
        called_ae_title="STORESCP",
        calling_ae_title="STORESCU",
        presentation_contexts=(pc_ac(1, 0, IVRLE),),
        user_information=UserInformation(items=(MaximumLength(maximum_length=0), *items)),
    )
    context = negotiate_as_requestor(rq, ac).accepted_contexts[0]
    assert (context.peer_scp_role, context.peer_scu_role) == (context.scu_role, context.scp_role)
    return context.scu_role, context.scp_role


# (our proposal, their answer) -> (we may be SCU, we may be SCP); a role granted that was
# not proposed is ignored, no answer means the defaults.
REQUESTOR_ROLES = {
    ((1, 0), None): (True, False),
    ((1, 0), (1, 0)): (True, False),
    ((1, 0), (0, 0)): (False, False),
    ((1, 0), (1, 1)): (True, False),
    ((1, 0), (0, 1)): (False, False),
    ((0, 1), None): (True, False),
    ((0, 1), (0, 1)): (False, True),
    ((0, 1), (0, 0)): (False, False),
    ((0, 1), (1, 1)): (False, True),
    ((0, 1), (1, 0)): (False, False),
    ((1, 1), None): (True, False),
    ((1, 1), (1, 1)): (True, True),
    ((1, 1), (1, 0)): (True, False),
    ((1, 1), (0, 1)): (False, True),
    ((1, 1), (0, 0)): (False, False),
}


@pytest.mark.parametrize(("key", "roles"), list(REQUESTOR_ROLES.items()))
def test_requestor_role_truth_table(
    key: tuple[tuple[int, int], tuple[int, int] | None], roles: tuple[bool, bool]
) -> None:
    assert _requestor_roles(*key) == roles


def test_roles_answered_only_for_supported_classes() -> None:
    items = (
        RoleSelection(MR, True, True),
        RoleSelection(GET, True, False),
        RoleSelection(CT, False, True),
    )
    rq = make_rq((1, GET, (IVRLE,)), (3, CT, (IVRLE,)), (5, MR, (IVRLE,)), items=items)
    config = make_config(GET, SupportedContext(CT, scp_role=False, scu_role=True))
    ac, assoc = accept(rq, config)
    answered = [
        (r.sop_class_uid, r.scu_role, r.scp_role) for r in every(ac.user_information, RoleSelection)
    ]
    assert answered == [(GET, True, False), (CT, False, True)]  # nothing for MR: unsupported
    assert [(c.abstract_syntax, c.scu_role, c.scp_role) for c in assoc.accepted_contexts] == [
        (GET, False, True),
        (CT, True, False),  # C-GET: we send C-STORE sub-operations as SCU
    ]


def test_two_role_items_for_one_class_is_a_protocol_error() -> None:
    items = (RoleSelection(CT, True, False), RoleSelection(CT, False, True))
    with pytest.raises(ProtocolError, match="role selection"):
        negotiate_as_acceptor(make_rq((1, CT, (IVRLE,)), items=items), make_config(CT))


# -- maximum length, asynchronous window (PS3.7 D.1, D.3.3.3) ----------------------------


@pytest.mark.parametrize(("theirs", "ours"), [(16384, 16384), (0, 32768), (65536, 0), (None, 1024)])
def test_max_pdu_both_ways(theirs: int | None, ours: int) -> None:
    rq = make_rq(ECHO, max_length=theirs)
    ac, assoc = accept(rq, make_config(VERIFICATION, max_pdu_length=ours))
    assert first(ac.user_information, MaximumLength) == MaximumLength(ours)
    assert (assoc.peer_max_pdu, assoc.our_max_pdu) == (theirs or 0, ours)
    mine = negotiate_as_requestor(rq, ac)
    assert (mine.peer_max_pdu, mine.our_max_pdu) == (ours, theirs or 0)


@pytest.mark.parametrize(
    ("proposed", "ours", "reply", "requestor_invokes", "acceptor_invokes"),
    [
        (None, (1, 1), None, 1, 1),
        (None, (5, 5), None, 1, 1),
        ((5, 5), (1, 1), None, 1, 1),  # synchronous acceptor: no answer, default 1/1
        ((0, 0), (3, 4), (4, 3), 4, 3),  # requestor unlimited, negotiated down
        ((2, 10), (0, 0), (2, 10), 2, 10),  # acceptor unlimited
        ((0, 0), (0, 0), (0, 0), 0, 0),
        ((8, 1), (2, 16), (8, 1), 8, 1),
    ],
)
def test_asynchronous_window(
    proposed: tuple[int, int] | None,
    ours: tuple[int, int],
    reply: tuple[int, int] | None,
    requestor_invokes: int,
    acceptor_invokes: int,
) -> None:
    items = () if proposed is None else (AsynchronousOperationsWindow(*proposed),)
    rq = make_rq(ECHO, items=items)
    config = make_config(
        VERIFICATION, max_operations_invoked=ours[0], max_operations_performed=ours[1]
    )
    ac, assoc = accept(rq, config)
    window = first(ac.user_information, AsynchronousOperationsWindow)
    assert (None if window is None else (window.invoked, window.performed)) == reply
    assert (assoc.max_operations_invoked, assoc.max_operations_performed) == (
        acceptor_invokes,
        requestor_invokes,
    )
    mine = negotiate_as_requestor(rq, ac)
    assert (mine.max_operations_invoked, mine.max_operations_performed) == (
        requestor_invokes,
        acceptor_invokes,
    )


def test_requestor_clamps_a_window_larger_than_offered() -> None:
    rq = build_association_request("A", "B", [VERIFICATION], asynchronous_window=(2, 3))
    ac = _ac(rq, (pc_ac(1, 0, IVRLE),), AsynchronousOperationsWindow(9, 0))
    assoc = negotiate_as_requestor(rq, ac)
    assert (assoc.max_operations_invoked, assoc.max_operations_performed) == (2, 3)


# -- user identity (PS3.7 D.3.3.7) -----------------------------------------------------------


def _identity(kind: int, response: bool) -> UserIdentityRQ:
    return UserIdentityRQ(
        identity_type=kind,
        positive_response_requested=response,
        primary_field=b"alice",
        secondary_field=b"pw",
    )


def test_identity_without_hook_is_accepted_silently() -> None:
    identity = _identity(2, True)
    ac, assoc = accept(make_rq(ECHO, items=(identity,)), make_config(VERIFICATION))
    assert first(ac.user_information, UserIdentityAC) is None
    assert assoc.user_identity == identity and assoc.user_identity_response is None


@pytest.mark.parametrize(
    ("kind", "requested", "verdict", "response"),
    [
        (UserIdentityType.USERNAME, True, True, b""),
        (UserIdentityType.USERNAME_AND_PASSCODE, True, IdentityVerdict(True, b"ignored"), b""),
        (UserIdentityType.KERBEROS, True, IdentityVerdict(True, b"ticket"), b"ticket"),
        (UserIdentityType.SAML, True, IdentityVerdict(True, b"<saml/>"), b"<saml/>"),
        (UserIdentityType.JWT, True, IdentityVerdict(True, b"jwt"), b"jwt"),
        (UserIdentityType.KERBEROS, False, IdentityVerdict(True, b"ticket"), None),
        (UserIdentityType.USERNAME, False, True, None),
    ],
)
def test_identity_accepted(
    kind: int, requested: bool, verdict: Any, response: bytes | None
) -> None:
    identity = _identity(kind, requested)
    calls: list[tuple[UserIdentityRQ, str]] = []

    def decide(item: UserIdentityRQ, rq: AAssociateRQ) -> Any:
        calls.append((item, rq.calling_ae_title))
        return verdict

    rq = make_rq(ECHO, items=(identity,))
    ac, assoc = accept(rq, make_config(VERIFICATION, on_user_identity=decide))
    assert calls == [(identity, "STORESCU")]
    expected = None if response is None else UserIdentityAC(server_response=response)
    assert first(ac.user_information, UserIdentityAC) == expected
    assert assoc.user_identity_response == response
    mine = negotiate_as_requestor(rq, ac)
    assert (mine.user_identity, mine.user_identity_response) == (identity, response)


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (False, (1, 1, 1)),
        (IdentityVerdict(False), (1, 1, 1)),
        (IdentityVerdict(False, transient=True), (2, 1, 1)),
    ],
)
def test_identity_refused_rejects(verdict: Any, expected: tuple[int, int, int]) -> None:
    config = make_config(VERIFICATION, on_user_identity=lambda item, rq: verdict)
    assert rj(make_rq(ECHO, items=(_identity(1, True),)), config) == expected
    accept(make_rq(ECHO), config)  # no identity sent: the hook is not asked


def test_identity_response_without_request_is_a_protocol_error() -> None:
    rq = build_association_request("A", "B", [VERIFICATION])
    ac = _ac(rq, (pc_ac(1, 0, IVRLE),), UserIdentityAC(server_response=b""))
    with pytest.raises(ProtocolError, match="user identity"):
        negotiate_as_requestor(rq, ac)


# -- extended negotiation (PS3.7 D.3.3.5, D.3.3.6) -------------------------------------------


def test_extended_negotiation_as_configured() -> None:
    items = (
        SOPClassExtendedNegotiation(FIND, b"\x01"),
        SOPClassExtendedNegotiation(FIND, b"\x00"),  # a second item for a class: ignored
        SOPClassExtendedNegotiation(CT, b"\x01"),  # accepted, nothing configured
        SOPClassExtendedNegotiation(MR, b"\x01"),  # not supported
        SOPClassExtendedNegotiation(GET, b"\x01"),  # supported but its context is rejected
        SOPClassCommonExtendedNegotiation(CT, "1.2.840.10008.4.2", ("1.2.3",)),
    )
    rq = make_rq(
        (1, FIND, (IVRLE,)), (3, CT, (IVRLE,)), (5, MR, (IVRLE,)), (7, GET, (JPEG,)), items=items
    )
    config = make_config(
        SupportedContext(FIND, extended_negotiation=b"\x01\x01"),
        CT,
        SupportedContext(GET, extended_negotiation=b"\x01"),
    )
    ac, assoc = accept(rq, config)
    replies = every(ac.user_information, SOPClassExtendedNegotiation)
    assert replies == (SOPClassExtendedNegotiation(FIND, b"\x01\x01"),)
    assert every(ac.user_information, SOPClassCommonExtendedNegotiation) == ()
    assert assoc.extended_negotiation == replies
    assert assoc.extended_negotiation_for(FIND) == b"\x01\x01"
    assert assoc.extended_negotiation_for(CT) is None
    assert assoc.requested_extended_negotiation == items[:5]
    assert assoc.common_extended_negotiation == (items[5],)
    mine = negotiate_as_requestor(rq, ac)
    assert mine.extended_negotiation == replies
    assert mine.common_extended_negotiation == (items[5],)


def test_extended_negotiation_hook() -> None:
    seen: list[str] = []

    def hook(item: SOPClassExtendedNegotiation, rq: AAssociateRQ) -> bytes | None:
        seen.append(item.sop_class_uid)
        return None if item.sop_class_uid == CT else item.service_class_application_information[:1]

    items = (
        SOPClassExtendedNegotiation(FIND, b"\x01\x01\x01"),
        SOPClassExtendedNegotiation(CT, b"\x01"),
    )
    rq = make_rq((1, FIND, (IVRLE,)), (3, CT, (IVRLE,)), items=items)
    config = make_config(
        SupportedContext(FIND, extended_negotiation=b"\x00"), CT, on_extended_negotiation=hook
    )
    ac, _ = accept(rq, config)
    assert seen == [FIND, CT]
    assert every(ac.user_information, SOPClassExtendedNegotiation) == (
        SOPClassExtendedNegotiation(FIND, b"\x01"),
    )


def test_requestor_drops_unasked_extended_replies() -> None:
    rq = build_association_request("A", "B", [FIND, CT], extended_negotiation={FIND: b"\x01"})
    ac = _ac(
        rq,
        (pc_ac(1, 0, EVRLE), pc_ac(3, 0, EVRLE)),
        SOPClassExtendedNegotiation(CT, b"\x05"),
        SOPClassExtendedNegotiation(FIND, b"\x00"),
    )
    assert negotiate_as_requestor(rq, ac).extended_negotiation == (
        SOPClassExtendedNegotiation(FIND, b"\x00"),
    )


# -- the requestor side checks the AC ---------------------------------------------------------


def _ac(
    rq: AAssociateRQ, contexts: tuple[PresentationContextAC, ...], *items: Any, **kw: Any
) -> AAssociateAC:
    return peer(
        AAssociateAC,
        called_ae_title=rq.called_ae_title,
        calling_ae_title=rq.calling_ae_title,
        presentation_contexts=contexts,
        user_information=UserInformation(items=(MaximumLength(maximum_length=4096), *items)),
        **kw,
    )


REQUEST = build_association_request(
    "SCU",
    "SCP",
    [RequestedContext(CT, (JPEG, EVRLE), scp_role=True), RequestedContext(FIND, (IVRLE,))],
)


@pytest.mark.parametrize(
    ("contexts", "items", "match", "where"),
    [
        ((pc_ac(5, 0, IVRLE),), (), "not proposed", "ID 5)"),
        (
            (pc_ac(1, 0, JPEG), pc_ac(1, 0, JPEG)),
            (),
            "twice",
            "ID 1)",
        ),
        ((pc_ac(4, 0, IVRLE),), (), "odd", "ID 4)"),
        ((pc_ac(1, 5, JPEG),), (), "undefined result", "ID 1)"),
        ((pc_ac(1, 0, IVRLE),), (), "not proposed", "ID 1)"),
        ((pc_ac(3, 0, EVRLE),), (), "not proposed", "ID 3)"),
        ((pc_ac(1, 0, ""),), (), "not proposed", "ID 1)"),
        ((pc_ac(3, 0, IVRLE),), (RoleSelection(FIND, True, False),), "role", FIND),
        (
            (pc_ac(1, 0, JPEG),),
            (RoleSelection(CT, False, True), RoleSelection(CT, True, False)),
            "two SCP/SCU",
            CT,
        ),
    ],
)
def test_requestor_rejects_bad_ac(
    contexts: tuple[PresentationContextAC, ...], items: tuple[Any, ...], match: str, where: str
) -> None:
    with pytest.raises(ProtocolError, match=match) as info:
        negotiate_as_requestor(REQUEST, _ac(REQUEST, contexts, *items))
    assert where in info.value.where and "A-ASSOCIATE-AC" in info.value.where


def test_requestor_rejects_ac_without_protocol_version_bit() -> None:
    with pytest.raises(ProtocolError, match="protocol version"):
        negotiate_as_requestor(REQUEST, _ac(REQUEST, (), protocol_version=2))


def test_requestor_tolerates_what_is_not_tested() -> None:
    ac = _ac(
        REQUEST,
        (pc_ac(1, 0, JPEG + "\0"),),  # context 3 unanswered
        RoleSelection(CT, True, True),  # SCU granted though only SCP was proposed
        RoleSelection(CT, True, True),  # repeated, the same (dcmqrscp: one per context)
        ImplementationClassUID("1.9.9\0"),
        ImplementationVersionName("PEER_1"),
    )
    ac = peer(
        AAssociateAC,
        called_ae_title="ELSE",  # AE titles in the AC are not tested (PS3.8 9.3.3)
        calling_ae_title="WHO",
        presentation_contexts=(*ac.presentation_contexts, pc_ac(3, 4, "garbage")),
        user_information=ac.user_information,
    )
    assoc = negotiate_as_requestor(REQUEST, ac)
    assert assoc.accepted_contexts == (AcceptedContext(1, CT, JPEG, False, True),)
    assert assoc.rejected_contexts[0].result == ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED
    assert (assoc.local_ae_title, assoc.peer_ae_title) == ("SCU", "SCP")
    assert (assoc.peer_implementation_class_uid, assoc.peer_implementation_version_name) == (
        "1.9.9",
        "PEER_1",
    )
    assert assoc.peer_max_pdu == 4096
    unanswered = negotiate_as_requestor(REQUEST, _ac(REQUEST, (pc_ac(1, 0, JPEG),)))
    assert unanswered.rejected_contexts[0].result == ContextResult.NO_REASON


# -- building a request ---------------------------------------------------------------------


def test_build_association_request() -> None:
    identity = _identity(2, True)
    common = SOPClassCommonExtendedNegotiation(CT, "1.2.840.10008.4.2")
    rq = build_association_request(
        " SCU ",
        "SCP",
        [
            VERIFICATION,
            RequestedContext(CT, (JPEG,), scp_role=True),
            RequestedContext(CT, scp_role=True),
        ],
        max_pdu_length=0,
        asynchronous_window=(0, 1),
        extended_negotiation={CT: b"\x01"},
        common_extended_negotiation=[common],
        user_identity=identity,
    )
    assert (rq.calling_ae_title, rq.called_ae_title) == ("SCU", "SCP")
    assert [
        (p.context_id, p.abstract_syntax, p.transfer_syntaxes) for p in rq.presentation_contexts
    ] == [
        (1, VERIFICATION, (EVRLE, IVRLE)),
        (3, CT, (JPEG,)),
        (5, CT, (EVRLE, IVRLE)),
    ]
    info = rq.user_information
    assert first(info, MaximumLength) == MaximumLength(0)
    assert first(info, ImplementationClassUID) == ImplementationClassUID(IMPLEMENTATION_CLASS_UID)
    assert first(info, ImplementationVersionName) == ImplementationVersionName(
        IMPLEMENTATION_VERSION_NAME
    )
    assert first(info, AsynchronousOperationsWindow) == AsynchronousOperationsWindow(0, 1)
    assert every(info, RoleSelection) == (RoleSelection(CT, False, True),)
    assert every(info, SOPClassExtendedNegotiation) == (SOPClassExtendedNegotiation(CT, b"\x01"),)
    assert every(info, SOPClassCommonExtendedNegotiation) == (common,)
    assert first(info, UserIdentityRQ) == identity
    assert len(IMPLEMENTATION_VERSION_NAME) <= 16


def test_build_minimal_request() -> None:
    rq = build_association_request("A", "B", [VERIFICATION], implementation_version_name=None)
    info = rq.user_information
    assert first(info, ImplementationVersionName) is None
    assert first(info, AsynchronousOperationsWindow) is None and every(info, RoleSelection) == ()
    assert first(info, MaximumLength) == MaximumLength(16384)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("A", "B", []), {}, "at least one"),
        (("", "B", [CT]), {}, "calling AE title"),
        (("A", "B" * 17, [CT]), {}, "called AE title"),
        (("A\\B", "B", [CT]), {}, "calling AE title"),
        (("A", "B", ["not.a.uid"]), {}, "abstract syntax"),
        (("A", "B", [RequestedContext(CT, scu_role=False, scp_role=False)]), {}, "SCU or SCP"),
        (
            ("A", "B", [RequestedContext(CT, scp_role=True), RequestedContext(CT, scu_role=True)]),
            {},
            "different roles",
        ),
        (("A", "B", [CT]), {"extended_negotiation": {MR: b""}}, "not requested"),
        (("A", "B", [CT]), {"max_pdu_length": -1}, "max_pdu_length"),
        (("A", "B", [CT]), {"asynchronous_window": (70000, 1)}, "invoked"),
        (("A", "B", [CT]), {"implementation_version_name": "X" * 17}, "version name"),
    ],
)
def test_build_usage_errors(args: tuple[Any, ...], kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        build_association_request(*args, **kwargs)


def test_requested_context_needs_transfer_syntaxes() -> None:
    with pytest.raises(UsageError, match="at least one"):
        RequestedContext(CT, ())
    with pytest.raises(UsageError, match="sequence"):
        RequestedContext(CT, IVRLE)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ae_title": "   "}, "AE title"),
        (
            {"ae_title": "X", "contexts": [SupportedContext(CT), SupportedContext(CT + "\0")]},
            "twice",
        ),
        ({"ae_title": "X", "max_presentation_contexts": 129}, "max contexts"),
        ({"ae_title": "X", "max_presentation_contexts": 0}, "max contexts"),
        ({"ae_title": "X", "max_operations_invoked": -1}, "invoked"),
        ({"ae_title": "X", "implementation_version_name": ""}, "version name"),
        ({"ae_title": "X", "implementation_class_uid": "1..2"}, "class UID"),
        ({"ae_title": "X", "calling_ae_titles": ["A" * 17]}, "calling AE title"),
    ],
)
def test_config_usage_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        AcceptorConfig(**kwargs)


def test_supported_context_needs_a_transfer_syntax() -> None:
    with pytest.raises(UsageError, match="transfer syntax"):
        SupportedContext(CT, ())


def test_acceptor_association_fields() -> None:
    rq = make_rq(
        ECHO, items=(ImplementationVersionName("PEER"),), calling=" SCU ", called="STORESCP "
    )
    ac, assoc = accept(rq, make_config(VERIFICATION, implementation_version_name=None))
    assert (ac.called_ae_title, ac.calling_ae_title) == (rq.called_ae_title, rq.calling_ae_title)
    assert first(ac.user_information, ImplementationClassUID) == ImplementationClassUID(
        IMPLEMENTATION_CLASS_UID
    )
    assert first(ac.user_information, ImplementationVersionName) is None
    assert not assoc.is_requestor
    assert (assoc.local_ae_title, assoc.peer_ae_title) == ("STORESCP", "SCU")
    assert (assoc.peer_implementation_class_uid, assoc.peer_implementation_version_name) == (
        PEER_IMPL,
        "PEER",
    )


# -- property: the two sides agree ------------------------------------------------------------

ABSTRACTS = (VERIFICATION, CT, MR, FIND, GET)
SYNTAXES = (IVRLE, EVRLE, JPEG, RLE)
syntax_lists = st.lists(st.sampled_from(SYNTAXES), min_size=1, max_size=4, unique=True)
windows = st.tuples(st.integers(0, 4), st.integers(0, 4))


@st.composite
def requests(draw: st.DrawFn) -> AAssociateRQ:
    ids = draw(st.lists(st.integers(0, 127), min_size=1, max_size=14, unique=True))
    contexts = [
        (2 * i + 1, draw(st.sampled_from(ABSTRACTS)), tuple(draw(syntax_lists))) for i in ids
    ]
    items: list[Any] = []
    if draw(st.booleans()):
        items.append(AsynchronousOperationsWindow(*draw(windows)))
    for uid in draw(st.lists(st.sampled_from(ABSTRACTS), unique=True)):
        items.append(RoleSelection(uid, draw(st.booleans()), draw(st.booleans())))
    for uid in draw(st.lists(st.sampled_from(ABSTRACTS), unique=True)):
        items.append(SOPClassExtendedNegotiation(uid, draw(st.binary(max_size=3))))
    if draw(st.booleans()):
        items.append(_identity(draw(st.integers(1, 5)), draw(st.booleans())))
    length = draw(st.sampled_from([None, 0, 4096, 16384, 1 << 20]))
    return make_rq(*contexts, items=tuple(items), max_length=length)


@st.composite
def configs(draw: st.DrawFn) -> AcceptorConfig:
    contexts = [
        SupportedContext(
            uid,
            tuple(draw(syntax_lists)),
            scp_role=draw(st.booleans()),
            scu_role=draw(st.booleans()),
            extended_negotiation=draw(st.none() | st.binary(max_size=2)),
        )
        for uid in draw(st.lists(st.sampled_from(ABSTRACTS), unique=True))
    ]
    invoked, performed = draw(windows)
    verdict = draw(st.sampled_from([None, True, IdentityVerdict(True, b"srv")]))
    return AcceptorConfig(
        ae_title="STORESCP",
        contexts=contexts,
        max_pdu_length=draw(st.sampled_from([0, 8192, 65536])),
        max_presentation_contexts=draw(st.integers(1, 16)),
        max_operations_invoked=invoked,
        max_operations_performed=performed,
        on_user_identity=None if verdict is None else (lambda item, rq: verdict),
    )


@settings(max_examples=300, deadline=None)
@given(requests(), configs())
def test_both_sides_agree(rq: AAssociateRQ, config: AcceptorConfig) -> None:
    ac, theirs = accept(rq, config)
    proposed = {pc.context_id: pc for pc in rq.presentation_contexts}
    answered = [pc.context_id for pc in ac.presentation_contexts]
    assert sorted(answered) == sorted(proposed)  # every proposed ID answered exactly once
    for pc in ac.presentation_contexts:
        if pc.result == ContextResult.ACCEPTANCE:
            assert pc.transfer_syntax in proposed[pc.context_id].transfer_syntaxes
    asked_roles = {r.sop_class_uid: r for r in every(rq.user_information, RoleSelection)}
    for role in every(ac.user_information, RoleSelection):
        asked = asked_roles[role.sop_class_uid]
        assert (role.scu_role <= asked.scu_role) and (role.scp_role <= asked.scp_role)

    mine = negotiate_as_requestor(rq, ac)
    assert mine.is_requestor and not theirs.is_requestor
    assert [
        (c.context_id, c.abstract_syntax, c.transfer_syntax) for c in mine.accepted_contexts
    ] == [(c.context_id, c.abstract_syntax, c.transfer_syntax) for c in theirs.accepted_contexts]
    for a, b in zip(mine.accepted_contexts, theirs.accepted_contexts, strict=True):
        assert (a.scu_role, a.scp_role) == (b.peer_scu_role, b.peer_scp_role)
        assert a.scu_role or a.scp_role
    assert mine.rejected_contexts == theirs.rejected_contexts
    assert (mine.our_max_pdu, mine.peer_max_pdu) == (theirs.peer_max_pdu, theirs.our_max_pdu)
    assert (mine.max_operations_invoked, mine.max_operations_performed) == (
        theirs.max_operations_performed,
        theirs.max_operations_invoked,
    )
    assert (mine.calling_ae_title, mine.called_ae_title) == (
        theirs.calling_ae_title,
        theirs.called_ae_title,
    )
    assert mine.local_ae_title == theirs.peer_ae_title
    assert mine.peer_implementation_class_uid == config.implementation_class_uid
    assert theirs.peer_implementation_class_uid == PEER_IMPL
    assert (mine.user_identity, mine.user_identity_response) == (
        theirs.user_identity,
        theirs.user_identity_response,
    )
    assert mine.extended_negotiation == theirs.extended_negotiation
    assert mine.requested_extended_negotiation == theirs.requested_extended_negotiation
    assert mine.common_extended_negotiation == theirs.common_extended_negotiation
    # and the same over the wire: what we send decodes to what we negotiated
    wire_rq = decode(rq.encode())
    assert isinstance(wire_rq, AAssociateRQ)
    wire_ac = decode(negotiate_as_acceptor(wire_rq, config).pdu.encode())
    assert isinstance(wire_ac, AAssociateAC)
    assert negotiate_as_requestor(rq, wire_ac) == mine


def test_duplicate_ids_from_the_wire() -> None:
    # The decoder checks each item alone; a repeated ID is negotiation's to refuse.
    rq = build_association_request("SCU", "STORESCP", [VERIFICATION, VERIFICATION])
    data = bytearray(rq.encode())
    offsets, pos = [], 74  # items follow the 74-byte fixed part (PS3.8 Table 9-11)
    while pos < len(data):
        if data[pos] == 0x20:
            offsets.append(pos)
        pos += 4 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    assert [data[o + 4] for o in offsets] == [1, 3]
    data[offsets[1] + 4] = 1
    wire = decode(bytes(data))
    assert isinstance(wire, AAssociateRQ)
    with pytest.raises(ProtocolError, match="twice") as info:
        negotiate_as_acceptor(wire, make_config(VERIFICATION))
    assert "ID 1)" in info.value.where


FUZZ_RQ = build_association_request(
    "SCU",
    "STORESCP",
    [
        RequestedContext(CT, (JPEG, EVRLE), scp_role=True),
        RequestedContext(FIND, scu_role=True, scp_role=False),
        VERIFICATION,
    ],
    asynchronous_window=(0, 2),
    extended_negotiation={FIND: b"\x01"},
    user_identity=_identity(3, True),
)
FUZZ_CONFIG = make_config(
    SupportedContext(CT, (EVRLE,), scu_role=True),
    SupportedContext(FIND, extended_negotiation=b"\x01"),
    VERIFICATION,
    max_operations_invoked=3,
    on_user_identity=lambda item, rq: IdentityVerdict(True, b"ticket"),
)
mutations = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6)


def _mutate(data: bytes, changes: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in changes:
        out[6 + position % (len(out) - 6)] = value  # keep type and length: reach the body
    return bytes(out)


@settings(max_examples=400, deadline=None)
@given(mutations)
def test_damaged_rq_yields_a_decision_or_protocol_error(changes: list[tuple[int, int]]) -> None:
    try:
        rq = decode(_mutate(FUZZ_RQ.encode(), changes))
        assert isinstance(rq, AAssociateRQ)
        decision = negotiate_as_acceptor(rq, FUZZ_CONFIG)
    except ProtocolError:
        return
    assert decode(decision.pdu.encode()) == decision.pdu
    if isinstance(decision.pdu, AAssociateAC):
        assert negotiate_as_requestor(rq, decision.pdu) is not None


@settings(max_examples=400, deadline=None)
@given(mutations)
def test_damaged_ac_yields_an_association_or_protocol_error(changes: list[tuple[int, int]]) -> None:
    good = negotiate_as_acceptor(FUZZ_RQ, FUZZ_CONFIG).pdu
    assert isinstance(good, AAssociateAC)
    try:
        ac = decode(_mutate(good.encode(), changes))
        assert isinstance(ac, AAssociateAC)
        negotiate_as_requestor(FUZZ_RQ, ac)
    except ProtocolError:
        return


def test_implementation_identity() -> None:
    # a UUID-derived UID (PS3.5 B.2), not under anyone's registered root
    root, uuid_int = IMPLEMENTATION_CLASS_UID.rsplit(".", 1)
    assert root == "2.25" and 0 < int(uuid_int) < 2**128 and not uuid_int.startswith("0")
    assert len(IMPLEMENTATION_CLASS_UID) <= 64
    assert 0 < len(IMPLEMENTATION_VERSION_NAME) <= 16
