"""``dimse echoscp``: a Verification SCP that answers C-ECHO until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging

from dimse.ae import AE
from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.evt import EVT_C_ECHO, Event

__all__ = ["main"]

APP = "echoscp"
LOGGER = logging.getLogger("dimse.apps.echoscp")
EXIT_CODES = (0, 2, 3)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = options.make_parser(
        prog,
        "The echoscp application implements a Service Class Provider (SCP) for the "
        "Verification SOP Class. It listens for DICOM C-ECHO messages and answers them "
        "until interrupted (SIGINT or SIGTERM ends it with status 0).",
        options.exit_codes_epilog(EXIT_CODES),
    )
    params = parser.add_argument_group("Parameters")
    params.add_argument(
        "port", type=options.port_number, help="TCP/IP port number to listen on (0: any free)"
    )
    options.add_general_options(parser, APP)
    network = options.add_network_options(parser, server=True, default_aet="ECHOSCP")
    options.add_server_options(network)
    options.add_window_option(network, server=True)
    options.add_accept_syntax_options(parser)
    options.add_tls_options(parser, server=True)
    return parser


def _log_echo(event: Event) -> int:
    LOGGER.info("Received Echo Request from %s", common.peer_of(event.assoc))
    return 0x0000


async def serve(args: argparse.Namespace, level: int) -> int:
    ae = AE(common.check_ae_title(args.ae_title, "-aet"))
    for title in args.require_calling_aet:
        common.check_ae_title(title, "--require-calling-aet")
    common.configure_ae(ae, args)
    tls = common.tls_context(args, server=True)
    ae.add_supported_context(common.VERIFICATION, options.accepted_syntaxes(args.prefer))
    handlers = common.association_handlers(LOGGER, level)
    if level <= logging.INFO:
        handlers.append((EVT_C_ECHO, _log_echo))
    return await common.serve_until_signalled(ae, args, handlers, tls, LOGGER)


def main(argv: list[str] | None = None, prog: str = "dimse echoscp") -> int:
    args = build_parser(prog).parse_args(argv)
    level = common.setup_logging(args)
    return common.run_async(APP, args, lambda: serve(args, level))
