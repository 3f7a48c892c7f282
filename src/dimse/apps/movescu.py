"""``dimse movescu``: ask a Q/R SCP to send instances to a move destination with C-MOVE.

The SCP opens its own associations to the destination (PS3.4 C.4.2), which it must
know by AE title. With ``--store`` movescu is that destination too, as pynetdicom's:
a Storage SCP (every storage class, every transfer syntax) runs on ``--store-port``
under ``--store-aet`` for as long as the C-MOVE does, writing byte for byte to
``-od``. The SCP's sub-operation counts and final status are printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from typing import Any

from dimse.ae import AE, Server
from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.apps import _qr_scu as qr
from dimse.apps._common import AppError
from dimse.apps.getscu import Received, add_output_options, log_progress, summarise
from dimse.apps.storescp import discard_sink
from dimse.evt import EVT_C_STORE
from dimse.negotiation import RequestedContext

__all__ = ["main"]

APP = "movescu"
LOGGER = logging.getLogger("dimse.apps.movescu")
EXIT_CODES = (0, 1, 2, 3, 4, 5, 130)
DRAIN_WAIT = 5.0  # seconds for the SCP's store associations to end after the C-MOVE


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = options.make_parser(
        prog,
        "The movescu application implements a Service Class User (SCU) for the "
        "Query/Retrieve (QR) Service Class and (optionally, --store) a Storage SCP. It "
        "sends a C-MOVE request built from -k keys (and/or a DICOM file) asking the peer "
        "to send the matching instances to the move destination (-aem), then prints "
        "the sub-operation counts and the final status.",
        options.exit_codes_epilog(
            EXIT_CODES,
            "the final status is not Success (unknown destination, a failed sub-operation, ...)",
        ),
    )
    params = parser.add_argument_group("Parameters")
    params.add_argument("addr", help="TCP/IP address or hostname of DICOM peer")
    params.add_argument("port", type=options.port_number, help="TCP/IP port number of peer")
    options.add_general_options(parser, APP)
    network = options.add_network_options(parser, server=False, default_aet="MOVESCU")
    network.add_argument(
        "-aem",
        "--move-aet",
        metavar="[a]etitle",
        default=None,
        help="set move destination AE title (default: STORESCP, or --store-aet with --store)",
    )
    qr.add_model_options(parser, "C-MOVE")
    qr.add_query_options(parser)
    store = parser.add_argument_group("Storage SCP Options")
    store.add_argument(
        "--store",
        action="store_true",
        help="start a Storage SCP that can be used as the move destination (it "
        "listens on the -ba address if given, else on every interface)",
    )
    store.add_argument(
        "--store-port",
        metavar="[p]ort",
        type=options.port_number,
        default=11113,
        help="the port number to use for the Storage SCP (default: 11113)",
    )
    store.add_argument(
        "--store-aet",
        metavar="[a]etitle",
        default="STORESCP",
        help="the AE title to use for the Storage SCP (default: STORESCP)",
    )
    qr.add_extended_negotiation_options(parser, "C-MOVE")
    add_output_options(parser)
    options.add_tls_options(parser, server=False)
    return parser


async def start_store_scp(
    args: argparse.Namespace, level: int, received: Received
) -> tuple[AE, Server]:
    """The --store Storage SCP, listening before the C-MOVE goes out."""
    ae = AE(common.check_ae_title(args.store_aet, "--store-aet"))
    common.configure_ae(ae, args)
    syntaxes = options.accepted_syntaxes(None)
    ae.add_supported_storage(syntaxes)
    ae.add_supported_context(common.VERIFICATION, syntaxes)
    ae.store_sink = discard_sink if args.ignore else common.output_sink(args)
    handlers: list[Any] = [*common.association_handlers(LOGGER, level), (EVT_C_STORE, received)]
    host = args.bind_address
    try:
        server = await ae.serve((host, args.store_port), evt_handlers=handlers)
    except OSError as exc:
        where = common.format_address(host or "*", args.store_port)
        raise AppError(
            f"cannot listen on {where} for --store: {exc.strerror or exc}", common.EXIT_NETWORK
        ) from None
    LOGGER.info("Storage SCP %s listening on port %d", args.store_aet, server.port)
    return ae, server


async def stop_store_scp(ae: AE, server: Server) -> None:
    """Let the SCP's store associations release (the final C-MOVE response may come
    before the last one ends), then close."""
    deadline = time.monotonic() + DRAIN_WAIT
    while ae.active_associations and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await server.close()


async def move(args: argparse.Namespace, level: int) -> int:
    identifier = qr.build_identifier(args)
    uid = qr.model_uid(args, "C-MOVE")
    destination = args.move_aet or (args.store_aet if args.store else "STORESCP")
    common.check_ae_title(destination, "-aem")
    ae = AE(common.check_ae_title(args.ae_title, "-aet"))
    common.check_ae_title(args.called_aet, "-aec")
    common.configure_ae(ae, args)
    tls = common.tls_context(args, server=False)
    received = Received(LOGGER)
    scp = await start_store_scp(args, level, received) if args.store else None
    try:
        where = common.format_address(args.addr, args.port)
        LOGGER.info("Requesting association with %s", where)
        handlers = common.association_handlers(LOGGER, level)
        ext_neg = qr.extended_negotiation(args, "C-MOVE", uid)
        assoc = await common.connect(ae, args, handlers, tls, [RequestedContext(uid)], ext_neg)
        LOGGER.info("Move destination: %s", destination)
        outcome = await qr.request(
            assoc,
            lambda: assoc.send_c_move(identifier, destination, uid),
            uid,
            lambda rsp, _: log_progress(LOGGER, rsp, uid),
            where,
            LOGGER,
        )
    finally:
        if scp is not None:
            await stop_store_scp(*scp)
    text = None
    if args.store:
        into = "discarded (--ignore)" if args.ignore else f"into {args.output_directory}"
        count = received.count
        text = f"{count} instance{'s' if count != 1 else ''} received by {args.store_aet} {into}"
    return summarise(args, outcome, uid, text)


def main(argv: list[str] | None = None, prog: str = "dimse movescu") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    qr.check_query_given(parser, args)
    level = common.setup_logging(args)
    common.keep_freed_memory()
    return common.run_async(APP, args, lambda: move(args, level))
