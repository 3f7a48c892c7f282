"""The capture scenarios: which real peers talk to which, and with what options.

Importing this module registers them, in this order, in `SCENARIOS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from tools.pdu_harness import Harness, ScenarioError, free_port
from tools.pdu_peers import (
    ABORT,
    AC,
    ASSOCIATE_AND_RELEASE,
    CT_STORAGE,
    DATA,
    DCMTK_SCU_TIMEOUTS,
    ENHANCED_SR,
    EXPLICIT_LE,
    IMPLICIT_LE,
    JPEG_2000,
    JPEG_BASELINE,
    MR_STORAGE,
    PRIVATE_SOP_CLASS,
    PROCEDURE_LOG,
    RELEASE_RP,
    RELEASE_RQ,
    RJ,
    RQ,
    SCENARIOS,
    STORAGE_EXT_NEG,
    STORAGE_SERVICE_CLASS,
    STUDY_ROOT_GET,
    STUDY_UID,
    VERIFICATION,
    Scenario,
    dcmqrscp,
    handlers,
    make_datasets,
    pn_ae,
    pn_echo_and_release,
    pn_serve,
    scenario,
    storage_scp,
    storescp,
)

__all__ = ["SCENARIOS", "Scenario", "make_datasets"]


# -- dcmtk requestors ------------------------------------------------------------------


@scenario(
    "echo",
    "dcmtk echoscu -> dcmtk storescp: association, C-ECHO, release.",
    ASSOCIATE_AND_RELEASE,
)
def _echo(h: Harness) -> None:
    port = storescp(h)
    proxy = h.proxy(port, h.dcmtk("echoscu"), h.dcmtk("storescp"))
    h.run(h.dcmtk_cmd("echoscu", *DCMTK_SCU_TIMEOUTS, "127.0.0.1", proxy.port))


@scenario(
    "echo_abort",
    "dcmtk echoscu -ppc 3 -pts 3 --abort -> dcmtk storescp: 3 contexts of 3 transfer "
    "syntaxes each, C-ECHO, then A-ABORT instead of release.",
    {RQ, AC, DATA, ABORT},
)
def _echo_abort(h: Harness) -> None:
    port = storescp(h)
    proxy = h.proxy(port, h.dcmtk("echoscu"), h.dcmtk("storescp"))
    h.run(
        h.dcmtk_cmd(
            "echoscu", *DCMTK_SCU_TIMEOUTS, "-ppc", 3, "-pts", 3, "--abort", "127.0.0.1", proxy.port
        )
    )


@scenario(
    "store_ct_mr",
    "dcmtk storescu -R --max-send-pdu 4096 (64x64 CT, 16x16 MR) -> pynetdicom storescp app: "
    "the CT data set spans several P-DATA-TF PDUs.",
    ASSOCIATE_AND_RELEASE,
)
def _store_ct_mr(h: Harness) -> None:
    port = free_port()
    h.spawn(h.pynetdicom_cmd("storescp", "-ta", 10, "-td", 10, "--ignore", port), port)
    proxy = h.proxy(port, h.dcmtk("storescu"), h.pynetdicom("storescp"))
    h.run(
        h.dcmtk_cmd(
            "storescu", *DCMTK_SCU_TIMEOUTS, "-R", "--max-send-pdu", 4096,
            "127.0.0.1", proxy.port, h.datasets["ct"], h.datasets["mr"],
        )
    )  # fmt: skip


@scenario(
    "store_jpeg8",
    "dcmtk storescu -R -xy and -R -xy +C (8-bit SC image) -> pynetdicom storescp app: "
    "a JPEG baseline context next to an uncompressed one (3 transfer syntaxes), then one "
    "context combining all 4.",
    ASSOCIATE_AND_RELEASE,
)
def _store_jpeg8(h: Harness) -> None:
    port = free_port()
    h.spawn(h.pynetdicom_cmd("storescp", "-ta", 10, "-td", 10, "--ignore", port), port)
    proxy = h.proxy(port, h.dcmtk("storescu"), h.pynetdicom("storescp"), connections=2)
    for combine in ((), ("+C",)):
        h.run(
            h.dcmtk_cmd(
                "storescu", *DCMTK_SCU_TIMEOUTS, "-R", "-xy", *combine,
                "127.0.0.1", proxy.port, h.datasets["sc"],
            )
        )  # fmt: skip


_STORESCU_CFG = """\
[[TransferSyntaxes]]
[Uncompressed]
TransferSyntax1 = LittleEndianExplicit
TransferSyntax2 = LittleEndianImplicit
[[PresentationContexts]]
[GoldenContexts]
PresentationContext1 = CTImageStorage\\Uncompressed
PresentationContext2 = MRImageStorage\\Uncompressed
[[SCPSCURoleSelection]]
[GoldenRoles]
Role1 = MRImageStorage\\BOTH
[[ExtendedNegotiation]]
[GoldenExtNeg]
ExtendedNegotiation1 = CTImageStorage\\{extneg}
[[Profiles]]
[Golden]
PresentationContexts = GoldenContexts
SCPSCURoleSelection = GoldenRoles
ExtendedNegotiation = GoldenExtNeg
"""


@scenario(
    "store_extneg",
    "dcmtk storescu -xf (profile with SOP class extended negotiation for CT and SCP/SCU role "
    "selection for MR) -> dcmtk storescp -xf (profile answering both).",
    ASSOCIATE_AND_RELEASE,
)
def _store_extneg(h: Harness) -> None:
    config = h.tmp / "golden-assoc.cfg"
    config.write_text(_STORESCU_CFG.format(extneg=STORAGE_EXT_NEG.hex()))
    port = storescp(h, "-xf", str(config), "Golden")
    proxy = h.proxy(port, h.dcmtk("storescu"), h.dcmtk("storescp"))
    h.run(
        h.dcmtk_cmd(
            "storescu", *DCMTK_SCU_TIMEOUTS, "-xf", config, "Golden",
            "127.0.0.1", proxy.port, h.datasets["ct"],
        )
    )  # fmt: skip


@scenario(
    "store_user_identity",
    "dcmtk storescu with user identity (username; username+passcode; JWT with positive "
    "response requested) -> pynetdicom AE with an EVT_USER_ID handler; the JWT gets a "
    "server response item.",
    ASSOCIATE_AND_RELEASE,
)
def _store_user_identity(h: Harness) -> None:
    jwt = h.tmp / "golden.jwt"
    jwt.write_bytes(b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJnb2xkZW4ifQ.")

    def on_user_id(event: Any) -> tuple[bool, bytes | None]:
        return True, (b"golden-server-response" if event.user_id_type in (3, 4, 5) else None)

    ae = storage_scp("PYNETDICOM", [CT_STORAGE, MR_STORAGE, VERIFICATION])
    port = pn_serve(h, ae, handlers(EVT_USER_ID=on_user_id))
    proxy = h.proxy(port, h.dcmtk("storescu"), h.pynetdicom("AE"), connections=3)
    identities = (
        ("-usr", "golden"),
        ("-usr", "golden", "-pwd", "s3cret"),
        ("--jwt", str(jwt), "-rsp"),
    )
    for identity in identities:
        h.run(
            h.dcmtk_cmd(
                "storescu", *DCMTK_SCU_TIMEOUTS, "-R", *identity,
                "127.0.0.1", proxy.port, h.datasets["mr"],
            )
        )  # fmt: skip


@scenario(
    "find",
    "dcmtk findscu -P (patient level) and -S (study level) -> dcmtk dcmqrscp: "
    "C-FIND requests, pending responses with identifiers, final responses.",
    ASSOCIATE_AND_RELEASE,
)
def _find(h: Harness) -> None:
    port = dcmqrscp(h)
    proxy = h.proxy(port, h.dcmtk("findscu"), h.dcmtk("dcmqrscp"), connections=2)
    queries = (
        ("-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName=GOLDEN*", "-k", "PatientID"),
        ("-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "StudyDate"),
    )
    for query in queries:
        h.run(
            h.dcmtk_cmd(
                "findscu", *DCMTK_SCU_TIMEOUTS, "-aec", "QRSCP", *query, "127.0.0.1", proxy.port
            )
        )


def _getscu(h: Harness, port: int, called: str) -> None:
    out = h.tmp / f"getscu-{port}"
    out.mkdir()
    h.run(
        h.dcmtk_cmd(
            "getscu", "-to", 10, "-ta", 10, "-td", 10, "-S", "-aec", called, "-od", out,
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_UID}",
            "127.0.0.1", port,
        )
    )  # fmt: skip


@scenario(
    "get",
    "dcmtk getscu -S -> dcmtk dcmqrscp: SCP/SCU role selection for the storage SOP classes, "
    "C-GET with C-STORE sub-operations on the same association.",
    ASSOCIATE_AND_RELEASE,
)
def _get(h: Harness) -> None:
    port = dcmqrscp(h)
    proxy = h.proxy(port, h.dcmtk("getscu"), h.dcmtk("dcmqrscp"))
    _getscu(h, proxy.port, "QRSCP")


@scenario(
    "get_pynetdicom",
    "dcmtk getscu -S -> pynetdicom AE (C-GET handler, CT/MR storage with SCU and SCP roles): "
    "pynetdicom answers the role selection items.",
    ASSOCIATE_AND_RELEASE,
)
def _get_pynetdicom(h: Harness) -> None:
    from pydicom import dcmread

    datasets = [dcmread(h.datasets[name]) for name in ("ct", "mr")]

    def on_get(event: Any) -> Iterator[Any]:
        yield len(datasets)
        for ds in datasets:
            if event.is_cancelled:
                yield (0xFE00, None)
                return
            yield (0xFF00, ds)

    ae = pn_ae("PYNETDICOM")
    ae.add_supported_context(STUDY_ROOT_GET)
    for uid in (CT_STORAGE, MR_STORAGE):
        ae.add_supported_context(uid, [EXPLICIT_LE, IMPLICIT_LE], scu_role=True, scp_role=True)
    port = pn_serve(h, ae, handlers(EVT_C_GET=on_get))
    proxy = h.proxy(port, h.dcmtk("getscu"), h.pynetdicom("AE"))
    _getscu(h, proxy.port, "PYNETDICOM")


@scenario(
    "move",
    "dcmtk movescu -S +P -> dcmtk dcmqrscp, which opens a second association back to "
    "movescu's storage SCP (also through a proxy) for the C-STORE sub-operations.",
    ASSOCIATE_AND_RELEASE,
)
def _move(h: Harness) -> None:
    store_port = free_port()
    back = h.proxy(store_port, h.dcmtk("dcmqrscp"), h.dcmtk("movescu"), rank=1)
    port = dcmqrscp(h, move_destination_port=back.port)
    proxy = h.proxy(port, h.dcmtk("movescu"), h.dcmtk("dcmqrscp"))
    out = h.tmp / "movescu"
    out.mkdir()
    h.run(
        h.dcmtk_cmd(
            "movescu", *DCMTK_SCU_TIMEOUTS, "-S", "-aet", "MOVESCU", "-aec", "QRSCP",
            "-aem", "MOVESCU", "+P", store_port, "-od", out,
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_UID}",
            "127.0.0.1", proxy.port,
        )
    )  # fmt: skip


@scenario(
    "reject",
    "dcmtk echoscu -> dcmtk dcmqrscp with an unknown called AE title, and -> dcmtk "
    "storescp --refuse: two A-ASSOCIATE-RJ variants.",
    {RQ, RJ},
)
def _reject(h: Harness) -> None:
    qr_port = dcmqrscp(h)
    refuse_port = storescp(h, "--refuse")
    for port, acceptor in ((qr_port, "dcmqrscp"), (refuse_port, "storescp")):
        proxy = h.proxy(port, h.dcmtk("echoscu"), h.dcmtk(acceptor))
        h.run(
            h.dcmtk_cmd("echoscu", *DCMTK_SCU_TIMEOUTS, "-aec", "NOBODY", "127.0.0.1", proxy.port),
            expect_rc=None,
        )


# -- pynetdicom requestors -------------------------------------------------------------


@scenario(
    "pn_store",
    "pynetdicom storescu app (CT, MR) -> dcmtk storescp -pdu 4096: pynetdicom splits the "
    "CT data set over several P-DATA-TF PDUs.",
    ASSOCIATE_AND_RELEASE,
)
def _pn_store(h: Harness) -> None:
    port = storescp(h, "-pdu", "4096")
    proxy = h.proxy(port, h.pynetdicom("storescu"), h.dcmtk("storescp"))
    h.run(
        h.pynetdicom_cmd(
            "storescu", "-ta", 10, "-td", 10, "127.0.0.1", proxy.port,
            h.datasets["ct"], h.datasets["mr"],
        )
    )  # fmt: skip


def _pn_user_identity_rq(kind: int, primary: bytes, secondary: bytes = b"") -> Any:
    from pynetdicom.pdu_primitives import UserIdentityNegotiation

    item = UserIdentityNegotiation()
    item.user_identity_type = kind
    item.primary_field = primary
    if kind == 2:
        item.secondary_field = secondary
    item.positive_response_requested = True
    return item


@scenario(
    "pn_user_identity",
    "pynetdicom AE -> pynetdicom AE with an EVT_USER_ID handler: username, "
    "username+passcode, Kerberos and JWT identities (positive response requested; the last "
    "two get a server response), then an identity the handler refuses (transient A-ASSOCIATE-RJ).",
    {RQ, AC, RJ, DATA, RELEASE_RQ, RELEASE_RP},
)
def _pn_user_identity(h: Harness) -> None:
    def on_user_id(event: Any) -> tuple[bool, bytes | None]:
        if event.primary_field == b"intruder":
            return False, None
        return True, b"golden-server-response"

    ae = storage_scp("PYNETDICOM", [VERIFICATION])
    port = pn_serve(h, ae, handlers(EVT_USER_ID=on_user_id))
    identities = [
        _pn_user_identity_rq(1, b"golden"),
        _pn_user_identity_rq(2, b"golden", b"s3cret"),
        _pn_user_identity_rq(3, b"golden-kerberos-ticket"),
        _pn_user_identity_rq(5, b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJnb2xkZW4ifQ."),
        _pn_user_identity_rq(1, b"intruder"),
    ]
    proxy = h.proxy(port, h.pynetdicom("AE"), h.pynetdicom("AE"), connections=len(identities))
    scu = pn_ae("GOLDEN-SCU")
    scu.add_requested_context(VERIFICATION)
    for identity in identities:
        assoc = scu.associate("127.0.0.1", proxy.port, ae_title="PYNETDICOM", ext_neg=[identity])
        if identity.primary_field == b"intruder":
            if not assoc.is_rejected:
                raise ScenarioError("the refused identity was not rejected")
        else:
            pn_echo_and_release(assoc)


def _negotiation_items(
    window: tuple[int, int],
    roles: list[tuple[str, bool, bool]],
    common_sop_class: str,
    related: list[str],
) -> list[Any]:
    """Async ops window, role selections, CT extended and one common extended item."""
    from pynetdicom import build_role
    from pynetdicom.pdu_primitives import (
        AsynchronousOperationsWindowNegotiation,
        SOPClassCommonExtendedNegotiation,
        SOPClassExtendedNegotiation,
    )

    async_ops = AsynchronousOperationsWindowNegotiation()
    async_ops.maximum_number_operations_invoked, async_ops.maximum_number_operations_performed = (
        window
    )
    extended = SOPClassExtendedNegotiation()
    extended.sop_class_uid = CT_STORAGE
    extended.service_class_application_information = STORAGE_EXT_NEG
    common = SOPClassCommonExtendedNegotiation()
    common.sop_class_uid = common_sop_class
    common.service_class_uid = STORAGE_SERVICE_CLASS
    if related:
        common.related_general_sop_class_identification = [*related]
    role_items = [build_role(uid, scu_role=scu, scp_role=scp) for uid, scu, scp in roles]
    return [async_ops, *role_items, extended, common]


@scenario(
    "pn_negotiation",
    "pynetdicom AE -> pynetdicom AE: asynchronous operations window, SOP class extended and "
    "common extended negotiation (with related general SOP classes) and role selection; the "
    "acceptor answers async ops, extended negotiation and roles.",
    ASSOCIATE_AND_RELEASE,
)
def _pn_negotiation(h: Harness) -> None:
    def on_async(event: Any) -> tuple[int, int]:
        return 1, 1

    def on_extended(event: Any) -> dict[str, bytes]:
        return dict(event.app_info)

    def on_common(event: Any) -> dict[str, Any]:
        return dict(event.items)

    ae = pn_ae("PYNETDICOM")
    ae.add_supported_context(VERIFICATION)
    for uid in (CT_STORAGE, MR_STORAGE):
        ae.add_supported_context(uid, [EXPLICIT_LE, IMPLICIT_LE], scu_role=True, scp_role=True)
    ae.add_supported_context(PROCEDURE_LOG, [EXPLICIT_LE, IMPLICIT_LE])
    port = pn_serve(
        h,
        ae,
        handlers(EVT_ASYNC_OPS=on_async, EVT_SOP_EXTENDED=on_extended, EVT_SOP_COMMON=on_common),
    )
    proxy = h.proxy(port, h.pynetdicom("AE"), h.pynetdicom("AE"))
    roles = [(CT_STORAGE, True, True), (MR_STORAGE, False, True)]
    items = _negotiation_items((5, 3), roles, PROCEDURE_LOG, [ENHANCED_SR])
    scu = pn_ae("GOLDEN-SCU")
    for uid in (VERIFICATION, CT_STORAGE, MR_STORAGE, PROCEDURE_LOG):
        scu.add_requested_context(uid, [EXPLICIT_LE, IMPLICIT_LE])
    assoc = scu.associate("127.0.0.1", proxy.port, ae_title="PYNETDICOM", ext_neg=items)
    pn_echo_and_release(assoc)


@scenario(
    "pn_negotiation_dcmtk",
    "The same pynetdicom negotiation items (async ops, roles, extended and common extended "
    "negotiation) -> dcmtk storescp -xf profile: how dcmtk answers them.",
    ASSOCIATE_AND_RELEASE,
)
def _pn_negotiation_dcmtk(h: Harness) -> None:
    config = h.tmp / "golden-assoc.cfg"
    config.write_text(_STORESCU_CFG.format(extneg=STORAGE_EXT_NEG.hex()))
    port = storescp(h, "-xf", str(config), "Golden")
    proxy = h.proxy(port, h.pynetdicom("AE"), h.dcmtk("storescp"))
    items = _negotiation_items((2, 2), [(MR_STORAGE, True, True)], CT_STORAGE, [])
    scu = pn_ae("GOLDEN-SCU")
    for uid in (CT_STORAGE, MR_STORAGE):
        scu.add_requested_context(uid, [EXPLICIT_LE, IMPLICIT_LE])
    assoc = scu.associate("127.0.0.1", proxy.port, ae_title="STORESCP", ext_neg=items)
    if not assoc.is_established:
        raise ScenarioError("dcmtk storescp did not accept the association")
    from pydicom import dcmread

    status = assoc.send_c_store(dcmread(h.datasets["ct"]))
    if not status or status.Status != 0:
        raise ScenarioError(f"C-STORE failed: {status}")
    assoc.release()


def _partial_contexts(h: Harness, port: int, acceptor: str, called: str) -> None:
    """Propose Verification, CT (JPEG baseline only), MR (JPEG 2000 or explicit VR LE) and a
    private SOP class; release after a C-ECHO."""
    from pynetdicom.presentation import build_context

    proxy = h.proxy(
        port, h.pynetdicom("AE"), h.dcmtk(acceptor) if acceptor != "AE" else h.pynetdicom("AE")
    )
    scu = pn_ae("GOLDEN-SCU")
    contexts = [
        build_context(VERIFICATION),
        build_context(CT_STORAGE, JPEG_BASELINE),
        build_context(MR_STORAGE, [JPEG_2000, EXPLICIT_LE]),
        build_context(PRIVATE_SOP_CLASS, [EXPLICIT_LE, IMPLICIT_LE]),
    ]
    assoc = scu.associate("127.0.0.1", proxy.port, contexts=contexts, ae_title=called)
    pn_echo_and_release(assoc)


@scenario(
    "pn_partial_contexts",
    "pynetdicom AE proposing Verification, CT with JPEG baseline only, MR with JPEG 2000 or "
    "explicit VR LE, and a private SOP class -> pynetdicom AE (Verification, CT and MR "
    "uncompressed): AC results 0, 4, 0 and 3.",
    ASSOCIATE_AND_RELEASE,
)
def _pn_partial_contexts(h: Harness) -> None:
    ae = storage_scp("PYNETDICOM", [VERIFICATION, CT_STORAGE, MR_STORAGE])
    port = pn_serve(h, ae, handlers())
    _partial_contexts(h, port, "AE", "PYNETDICOM")


@scenario(
    "pn_partial_contexts_dcmtk",
    "The same proposal -> dcmtk storescp (uncompressed only): dcmtk's AC with results 0, 4, "
    "0 and 3.",
    ASSOCIATE_AND_RELEASE,
)
def _pn_partial_contexts_dcmtk(h: Harness) -> None:
    _partial_contexts(h, storescp(h), "storescp", "STORESCP")


@scenario(
    "pn_reject",
    "pynetdicom AE -> pynetdicom AE: wrong called AE title (permanent, reason 7), calling AE "
    "title not allowed (permanent, reason 3), and too many associations (transient, "
    "presentation-layer source, reason 2).",
    {RQ, AC, RJ, DATA, RELEASE_RQ, RELEASE_RP},
)
def _pn_reject(h: Harness) -> None:
    strict = storage_scp("PYNETDICOM", [VERIFICATION])
    strict.require_called_aet = True
    strict.require_calling_aet = ["TRUSTED"]
    strict_port = pn_serve(h, strict, handlers())
    proxy = h.proxy(strict_port, h.pynetdicom("AE"), h.pynetdicom("AE"), connections=2)
    scu = pn_ae("GOLDEN-SCU")
    scu.add_requested_context(VERIFICATION)
    for called in ("SOMEONE-ELSE", "PYNETDICOM"):
        assoc = scu.associate("127.0.0.1", proxy.port, ae_title=called)
        if not assoc.is_rejected:
            raise ScenarioError(f"called AE {called!r} was not rejected")

    busy = storage_scp("PYNETDICOM", [VERIFICATION])
    busy.maximum_associations = 1
    busy_port = pn_serve(h, busy, handlers())
    proxy = h.proxy(busy_port, h.pynetdicom("AE"), h.pynetdicom("AE"), connections=2)
    first = scu.associate("127.0.0.1", proxy.port, ae_title="PYNETDICOM")
    if not first.is_established:
        raise ScenarioError("first association to the busy SCP failed")
    second = scu.associate("127.0.0.1", proxy.port, ae_title="PYNETDICOM")
    rejected = second.is_rejected
    pn_echo_and_release(first)
    if not rejected:
        raise ScenarioError("second association to the busy SCP was not rejected")


@scenario(
    "pn_abort",
    "pynetdicom AE -> pynetdicom AE: C-ECHO then A-ABORT from the requestor; and an acceptor "
    "whose C-ECHO handler aborts the association.",
    {RQ, AC, DATA, ABORT},
)
def _pn_abort(h: Harness) -> None:
    aborted = threading.Event()

    def on_echo(event: Any) -> int:
        if event.assoc.requestor.ae_title == "ABORT-ME":
            aborted.set()
            event.assoc.abort()
        return 0x0000

    ae = storage_scp("PYNETDICOM", [VERIFICATION])
    port = pn_serve(h, ae, handlers(EVT_C_ECHO=on_echo))
    proxy = h.proxy(port, h.pynetdicom("AE"), h.pynetdicom("AE"), connections=2)
    scu = pn_ae("GOLDEN-SCU")
    scu.add_requested_context(VERIFICATION)
    pn_echo_and_release(scu.associate("127.0.0.1", proxy.port, ae_title="PYNETDICOM"), abort=True)
    victim = pn_ae("ABORT-ME")
    victim.add_requested_context(VERIFICATION)
    assoc = victim.associate("127.0.0.1", proxy.port, ae_title="PYNETDICOM")
    if not assoc.is_established:
        raise ScenarioError("association for the acceptor-abort case failed")
    assoc.send_c_echo()
    if not aborted.wait(10):
        raise ScenarioError("the acceptor's C-ECHO handler did not run")
    end = time.monotonic() + 10
    while not assoc.is_aborted and time.monotonic() < end:
        time.sleep(0.05)
    if not assoc.is_aborted:
        raise ScenarioError("the acceptor did not abort")
