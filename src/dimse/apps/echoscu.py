"""``dimse echoscu``: C-ECHO a peer to check connectivity (pynetdicom/dcmtk flags).

Silent on success unless -v, like pynetdicom's echoscu: scripts test the exit status.
"""

from __future__ import annotations

import argparse
import logging

from dimse.ae import AE
from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.apps._common import AppError
from dimse.negotiation import DEFAULT_TRANSFER_SYNTAXES, RequestedContext

__all__ = ["main"]

APP = "echoscu"
LOGGER = logging.getLogger("dimse.apps.echoscu")
EXIT_CODES = (0, 1, 2, 3, 4, 5, 130)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = options.make_parser(
        prog,
        "The echoscu application implements a Service Class User (SCU) for the "
        "Verification Service Class. It sends a DICOM C-ECHO message to a Service Class "
        "Provider (SCP) and waits for a response.",
        options.exit_codes_epilog(
            EXIT_CODES, "C-ECHO failed: a status other than Success, or Verification not accepted"
        ),
    )
    params = parser.add_argument_group("Parameters")
    params.add_argument("addr", help="TCP/IP address or hostname of DICOM peer")
    params.add_argument("port", type=options.port_number, help="TCP/IP port number of peer")
    options.add_general_options(parser, APP)
    network = options.add_network_options(parser, server=False, default_aet="ECHOSCU")
    options.add_window_option(network, server=False)
    options.add_request_syntax_options(parser)
    misc = parser.add_argument_group("Miscellaneous Options")
    misc.add_argument(
        "--repeat",
        metavar="[n]umber",
        type=options.positive_int,
        default=1,
        help="repeat echo request n times (on one association)",
    )
    misc.add_argument(
        "--abort", action="store_true", help="abort association instead of releasing it"
    )
    options.add_tls_options(parser, server=False)
    return parser


async def echo(args: argparse.Namespace, level: int) -> int:
    ae = AE(common.check_ae_title(args.ae_title, "-aet"))
    common.check_ae_title(args.called_aet, "-aec")
    common.configure_ae(ae, args)
    tls = common.tls_context(args, server=False)
    syntaxes = (args.request_syntax,) if args.request_syntax else DEFAULT_TRANSFER_SYNTAXES
    contexts = [RequestedContext(common.VERIFICATION, tuple(str(s) for s in syntaxes))]
    where = common.format_address(args.addr, args.port)
    LOGGER.info("Requesting association with %s", where)
    handlers = common.association_handlers(LOGGER, level)
    assoc = await common.connect(ae, args, handlers, tls, contexts)
    if not assoc.accepted_contexts:
        await assoc.release()
        raise AppError(
            "the peer accepted no presentation context for Verification", common.EXIT_FAILED
        )
    failed = 0

    async def one(_: int) -> None:
        nonlocal failed
        LOGGER.info("Sending Echo Request")
        rsp = await assoc.send_c_echo()
        meaning = f"0x{rsp.status:04X} " + common.status_meaning(rsp.status_entry("verification"))
        if rsp.status == 0:
            LOGGER.info("Received Echo Response (Status: %s)", meaning)
        else:
            failed += 1
            LOGGER.error("Received Echo Response (Status: %s)", meaning)

    lanes = common.operations_window(assoc, args.ops_invoked)
    try:
        await common.in_lanes(lanes, range(args.repeat), one)
    except BaseException as exc:
        assoc.abort()
        raise common.failure(exc, where) from None
    if args.abort:
        LOGGER.info("Aborting association")
        assoc.abort()
        await assoc.wait_closed()
    else:
        LOGGER.info("Releasing association")
        await assoc.release()
    if failed:
        raise AppError(f"{failed} of {args.repeat} C-ECHO requests failed", common.EXIT_FAILED)
    return common.EXIT_OK


def main(argv: list[str] | None = None, prog: str = "dimse echoscu") -> int:
    args = build_parser(prog).parse_args(argv)
    level = common.setup_logging(args)
    return common.run_async(APP, args, lambda: echo(args, level))
