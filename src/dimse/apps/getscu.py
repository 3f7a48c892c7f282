"""``dimse getscu``: retrieve instances with C-GET; they arrive on the same association.

The peer sends what matched as C-STORE sub-operations on our association (PS3.4
C.4.3), only for the storage SOP classes we proposed with our SCP role. All 128
presentation contexts cannot cover the standard's 138 storage classes, so the common
classes are proposed (:data:`COMMON_STORAGE`), after any given with ``--storage-class``
(:meth:`~dimse.ae.AE.add_requested_storage`); each gets two contexts, Explicit and
Implicit VR Little Endian, so that an instance stored in either travels as its bytes
are and is written byte for byte (:class:`~dimse.ae.StoreToDirectory`). Classes that
do not fit twice get one context with both.
"""

from __future__ import annotations

import argparse
import logging

from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dimse.ae import AE, storage_sop_classes
from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.apps import _qr_scu as qr
from dimse.apps._common import AppError
from dimse.apps.storescp import discard_sink
from dimse.evt import EVT_C_STORE, Event
from dimse.messages import CStoreRQ, Response
from dimse.negotiation import MAX_PRESENTATION_CONTEXTS
from dimse.part10 import is_valid_uid

__all__ = ["COMMON_STORAGE", "Received", "main", "propose_storage"]

APP = "getscu"
LOGGER = logging.getLogger("dimse.apps.getscu")
EXIT_CODES = (0, 1, 2, 3, 4, 5, 130)

# PS3.6 keywords of the storage classes proposed by default: images of every common
# modality, presentation states, SR, RT, encapsulated documents, waveforms, and the
# non-patient objects the Q/R models here serve (Protocol Approval, Hanging Protocol).
COMMON_STORAGE = (
    "CTImageStorage",
    "EnhancedCTImageStorage",
    "MRImageStorage",
    "EnhancedMRImageStorage",
    "ComputedRadiographyImageStorage",
    "DigitalXRayImageStorageForPresentation",
    "DigitalXRayImageStorageForProcessing",
    "DigitalMammographyXRayImageStorageForPresentation",
    "DigitalMammographyXRayImageStorageForProcessing",
    "BreastTomosynthesisImageStorage",
    "UltrasoundImageStorage",
    "UltrasoundMultiFrameImageStorage",
    "SecondaryCaptureImageStorage",
    "MultiFrameSingleBitSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
    "MultiFrameTrueColorSecondaryCaptureImageStorage",
    "XRayAngiographicImageStorage",
    "EnhancedXAImageStorage",
    "XRayRadiofluoroscopicImageStorage",
    "XRay3DAngiographicImageStorage",
    "NuclearMedicineImageStorage",
    "PositronEmissionTomographyImageStorage",
    "EnhancedPETImageStorage",
    "ParametricMapStorage",
    "RawDataStorage",
    "SpatialRegistrationStorage",
    "SegmentationStorage",
    "VLEndoscopicImageStorage",
    "VLMicroscopicImageStorage",
    "VLPhotographicImageStorage",
    "VLWholeSlideMicroscopyImageStorage",
    "OphthalmicPhotography8BitImageStorage",
    "OphthalmicTomographyImageStorage",
    "GrayscaleSoftcopyPresentationStateStorage",
    "ColorSoftcopyPresentationStateStorage",
    "BasicTextSRStorage",
    "EnhancedSRStorage",
    "ComprehensiveSRStorage",
    "Comprehensive3DSRStorage",
    "KeyObjectSelectionDocumentStorage",
    "MammographyCADSRStorage",
    "XRayRadiationDoseSRStorage",
    "EncapsulatedPDFStorage",
    "EncapsulatedCDAStorage",
    "TwelveLeadECGWaveformStorage",
    "GeneralECGWaveformStorage",
    "RTImageStorage",
    "RTDoseStorage",
    "RTStructureSetStorage",
    "RTPlanStorage",
    "RTIonPlanStorage",
    "RTBeamsTreatmentRecordStorage",
    "ProtocolApprovalStorage",
    "HangingProtocolStorage",
)
_BOTH = (str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian))


def storage_class_uid(text: str) -> str:
    """A storage SOP class from its UID or PS3.6 keyword (argparse type)."""
    if is_valid_uid(text):
        uid = text
    else:
        uid = next((u for u in storage_sop_classes() if UID(u).keyword == text), "")
        if not uid:
            raise argparse.ArgumentTypeError(f"{text!r} is not a storage SOP class keyword")
    return uid  # a UID outside the spec (a private class) is proposed as given


def propose_storage(ae: AE, extra: list[str]) -> int:
    """Propose storage classes with our SCP role after the contexts ``ae`` has:
    ``extra`` classes first, then the common ones; two contexts per class (one per
    syntax) while the 128 allow, else one with both. Returns how many did not fit."""
    by_keyword = {UID(u).keyword: u for u in storage_sop_classes()}
    classes = list(dict.fromkeys([*extra, *(by_keyword[k] for k in COMMON_STORAGE)]))
    room = MAX_PRESENTATION_CONTEXTS - len(ae.requested_contexts)
    doubled = max(0, min(len(classes), room - len(classes)))
    for syntax in _BOTH:
        ae.add_requested_storage(classes[:doubled], syntax)
    added = ae.add_requested_storage(classes[doubled:], _BOTH)
    dropped = len(classes) - doubled - added
    if dropped:
        LOGGER.warning("%d storage class(es) did not fit in 128 presentation contexts", dropped)
    return dropped


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """-od/--ignore/--no-fsync (shared with movescu --store)."""
    output = parser.add_argument_group("Output Options")
    output.add_argument(
        "-od",
        "--output-directory",
        metavar="[d]irectory",
        default=".",
        help="write received objects to directory d (created if missing; default: .), "
        "each as <SOP Instance UID>, byte for byte as received",
    )
    output.add_argument("--ignore", action="store_true", help="receive data but don't store it")
    output.add_argument(
        "--no-fsync",
        action="store_true",
        help="(dimse) don't fsync each received file: faster, less safe on power loss",
    )


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = options.make_parser(
        prog,
        "The getscu application implements a Service Class User (SCU) for the "
        "Query/Retrieve (QR) Service Class. It sends a C-GET request built from -k keys "
        "(and/or a DICOM file) and stores the instances the peer sends back on the same "
        "association, then prints the sub-operation counts and the final status.",
        options.exit_codes_epilog(
            EXIT_CODES, "the final status is not Success (a sub-operation failed, ...)"
        ),
    )
    params = parser.add_argument_group("Parameters")
    params.add_argument("addr", help="TCP/IP address or hostname of DICOM peer")
    params.add_argument("port", type=options.port_number, help="TCP/IP port number of peer")
    options.add_general_options(parser, APP)
    options.add_network_options(parser, server=False, default_aet="GETSCU")
    qr.add_model_options(parser, "C-GET")
    qr.add_query_options(parser)
    qr.add_extended_negotiation_options(parser, "C-GET")
    add_output_options(parser)
    storage = parser.add_argument_group("Storage Options (dimse)")
    storage.add_argument(
        "--storage-class",
        metavar="[u]id or keyword",
        action="append",
        type=storage_class_uid,
        default=[],
        help="also accept instances of this storage SOP class (proposed first); "
        "repeat for more. By default the common classes are proposed",
    )
    options.add_tls_options(parser, server=False)
    return parser


class Received:
    """Counts the C-STOREs that arrive and logs them (EVT_C_STORE handler)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.count = 0
        self.logger = logger

    def __call__(self, event: Event) -> int:
        self.count += 1
        request = event.request
        assert isinstance(request, CStoreRQ)
        uid = request.affected_sop_instance_uid.rstrip("\x00")
        kind = UID(request.affected_sop_class_uid.rstrip("\x00")).name
        where = f" as {event.path}" if event.path is not None else " (not stored: --ignore)"
        self.logger.info("Received %s %s%s", kind, uid, where)
        return 0x0000


def log_progress(logger: logging.Logger, rsp: Response, uid: str) -> None:
    counts = sub_operations(rsp)
    logger.info("%s response: %s; %s", rsp.dimse, qr.status_text(rsp, uid), counts)


def sub_operations(rsp: Response) -> str:
    parts = []
    for name in ("remaining", "completed", "failed", "warning"):
        value = getattr(rsp, f"number_of_{name}_suboperations", None)
        if value is not None:
            parts.append(f"{name} {value}")
    return ", ".join(parts) or "no sub-operation counts"


def summarise(args: argparse.Namespace, outcome: qr.Outcome, uid: str, received: str | None) -> int:
    """Print the counts and final status (and failed UIDs); the exit status."""
    final = outcome.final
    status = qr.status_text(final, uid) if final is not None else "no final response"
    lines = []
    if getattr(final, "number_of_completed_suboperations", None) is not None:
        assert final is not None
        lines.append(f"{final.dimse}: {sub_operations(final)}")
    if received:
        lines.append(received)
    lines.append(f"final status {status}")
    failed = getattr(outcome.identifier, "FailedSOPInstanceUIDList", None)
    if failed:
        values = [failed] if isinstance(failed, str) else list(failed)
        lines.append(f"failed SOP instances ({len(values)}):")
        lines += [f"  {v}" for v in values[:20]] + (["  ..."] if len(values) > 20 else [])
    if not args.quiet:
        print("\n".join(lines), flush=True)
    code = qr.final_exit(outcome)
    if code == common.EXIT_FAILED:
        dimse = final.dimse if final is not None else "request"
        raise AppError(f"{dimse} failed: {status}", code)
    return code


async def get(args: argparse.Namespace, level: int) -> int:
    identifier: Dataset = qr.build_identifier(args)
    uid = qr.model_uid(args, "C-GET")
    ae = AE(common.check_ae_title(args.ae_title, "-aet"))
    common.check_ae_title(args.called_aet, "-aec")
    common.configure_ae(ae, args)
    tls = common.tls_context(args, server=False)
    ae.store_sink = discard_sink if args.ignore else common.output_sink(args)
    ae.add_requested_context(uid)
    propose_storage(ae, args.storage_class)
    where = common.format_address(args.addr, args.port)
    LOGGER.info("Requesting association with %s (%d contexts)", where, len(ae.requested_contexts))
    received = Received(LOGGER)
    handlers = [*common.association_handlers(LOGGER, level), (EVT_C_STORE, received)]
    ext_neg = qr.extended_negotiation(args, "C-GET", uid)
    assoc = await common.connect(ae, args, handlers, tls, None, ext_neg)
    outcome = await qr.request(
        assoc,
        lambda: assoc.send_c_get(identifier, uid),
        uid,
        lambda rsp, _: log_progress(LOGGER, rsp, uid),
        where,
        LOGGER,
    )
    into = "discarded (--ignore)" if args.ignore else f"into {args.output_directory}"
    text = f"{received.count} instance{'s' if received.count != 1 else ''} received {into}"
    return summarise(args, outcome, uid, text)


def main(argv: list[str] | None = None, prog: str = "dimse getscu") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    qr.check_query_given(parser, args)
    level = common.setup_logging(args)
    common.keep_freed_memory()
    return common.run_async(APP, args, lambda: get(args, level))
