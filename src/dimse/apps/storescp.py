"""``dimse storescp``: a Storage SCP (every storage SOP class) that also answers C-ECHO.

Instances are streamed to ``<output directory>/<SOP Instance UID>`` as PS3.10 files
holding exactly the bytes received (:class:`dimse.ae.StoreToDirectory`: atomic
rename, fsync unless --no-fsync); --ignore receives into a sink that drops the bytes,
so nothing is buffered or written. Runs on asyncio directly: no thread hops per PDU.
"""

from __future__ import annotations

import argparse
import logging

from dimse.ae import AE
from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.association import Association
from dimse.evt import EVT_C_ECHO, EVT_C_STORE, Event
from dimse.messages import CStoreRQ, Message
from dimse.uid import UID

__all__ = ["DiscardSink", "discard_sink", "main"]

APP = "storescp"
LOGGER = logging.getLogger("dimse.apps.storescp")
EXIT_CODES = (0, 2, 3)


class DiscardSink:
    """A :class:`~dimse.pdv.DatasetSink` that counts the bytes and keeps none."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)

    def close(self) -> None:
        return None

    def discard(self) -> None:
        return None


def discard_sink(assoc: Association, message: Message, context_id: int) -> DiscardSink:
    """``AE.store_sink`` for --ignore: every C-STORE data set goes nowhere."""
    return DiscardSink()


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = options.make_parser(
        prog,
        "The storescp application implements a Service Class Provider (SCP) for the "
        "Storage and Verification SOP Classes. It accepts every storage SOP class of the "
        "standard (including Non-Patient Objects) in every transfer syntax, and stores "
        "each received instance as a DICOM file named by its SOP Instance UID, byte for "
        "byte as sent. It runs until interrupted (SIGINT or SIGTERM ends it with status "
        "0; associations still open are aborted and their partial files removed).",
        options.exit_codes_epilog(EXIT_CODES),
    )
    params = parser.add_argument_group("Parameters")
    params.add_argument(
        "port", type=options.port_number, help="TCP/IP port number to listen on (0: any free)"
    )
    options.add_general_options(parser, APP)
    network = options.add_network_options(parser, server=True, default_aet="STORESCP")
    options.add_server_options(network)
    options.add_window_option(network, server=True)
    options.add_accept_syntax_options(parser)
    output = parser.add_argument_group("Output Options")
    output.add_argument(
        "-od",
        "--output-directory",
        metavar="[d]irectory",
        default=".",
        help="write received objects to directory d (created if missing; default: .)",
    )
    output.add_argument("--ignore", action="store_true", help="receive data but don't store it")
    output.add_argument(
        "--no-fsync",
        action="store_true",
        help="(dimse) don't fsync each file before acknowledging it: faster, but a "
        "power loss can lose instances the peer was told were stored",
    )
    misc = parser.add_argument_group("Miscellaneous Options")
    misc.add_argument("--no-echo", action="store_true", help="don't act as a verification SCP")
    options.add_tls_options(parser, server=True)
    return parser


def _log_store(event: Event) -> int:
    request = event.request
    assert isinstance(request, CStoreRQ)
    uid = request.affected_sop_instance_uid.rstrip("\x00")
    kind = UID(request.affected_sop_class_uid.rstrip("\x00")).name
    if event.path is not None:
        LOGGER.info("Stored %s %s as %s", kind, uid, event.path)
    else:
        LOGGER.info("Received %s %s (not stored: --ignore)", kind, uid)
    return 0x0000


def _log_echo(event: Event) -> int:
    LOGGER.info("Received Echo Request from %s", common.peer_of(event.assoc))
    return 0x0000


async def serve(args: argparse.Namespace, level: int) -> int:
    ae = AE(common.check_ae_title(args.ae_title, "-aet"))
    for title in args.require_calling_aet:
        common.check_ae_title(title, "--require-calling-aet")
    common.configure_ae(ae, args)
    tls = common.tls_context(args, server=True)
    syntaxes = options.accepted_syntaxes(args.prefer)
    ae.add_supported_storage(syntaxes)
    if not args.no_echo:
        ae.add_supported_context(common.VERIFICATION, syntaxes)
    ae.store_sink = discard_sink if args.ignore else common.output_sink(args)
    handlers = common.association_handlers(LOGGER, level)
    if level <= logging.INFO:
        handlers += [(EVT_C_STORE, _log_store), (EVT_C_ECHO, _log_echo)]
    return await common.serve_until_signalled(ae, args, handlers, tls, LOGGER)


def main(argv: list[str] | None = None, prog: str = "dimse storescp") -> int:
    args = build_parser(prog).parse_args(argv)
    level = common.setup_logging(args)
    common.keep_freed_memory()
    return common.run_async(APP, args, lambda: serve(args, level))
