"""The apps' command lines: pynetdicom's option names and groups, exit status table.

Kept apart from :mod:`dimse.apps._common` (which runs things) so each app's parser
reads as a list of groups; every dimse-only option says "(dimse)" in its help.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from collections.abc import Iterable

import dimse
from dimse.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

__all__ = [
    "EXIT_ABORTED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "LEVELS",
    "accepted_syntaxes",
    "exit_codes_epilog",
    "make_parser",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_REJECTED = 4
EXIT_ABORTED = 5
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_FAILED: "{failed}",
    EXIT_USAGE: "bad command line or local set-up (TLS files, output directory)",
    EXIT_NETWORK: "network error: cannot connect or listen, TLS failure, timeout",
    EXIT_REJECTED: "association rejected by the peer",
    EXIT_ABORTED: "association aborted (by the peer, or after a protocol error)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


def exit_codes_epilog(codes: Iterable[int], failed: str = "an operation failed") -> str:
    lines = ["exit status:"]
    for code in codes:
        lines.append(f"  {code:>3}  {EXIT_CODES[code].format(failed=failed)}")
    return "\n".join(lines)


def make_parser(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """Raw formatting keeps the exit status table aligned; prose is wrapped here."""
    return argparse.ArgumentParser(
        prog=prog,
        description=wrap(description),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, width=79, initial_indent=indent, subsequent_indent=indent)


# -- option groups -------------------------------------------------------------------------
def add_general_options(parser: argparse.ArgumentParser, app: str) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("General Options")
    group.add_argument(
        "--version",
        action="version",
        version=f"dimse {app} {dimse.__version__} (Python {sys.version.split()[0]})",
        help="print version information and exit",
    )
    verbosity = group.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="quiet mode, print no warnings and errors"
    )
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="verbose mode, print processing details"
    )
    verbosity.add_argument(
        "-d",
        "--debug",
        action="store_true",
        help="debug mode, print debug information and dump every PDU and DIMSE message",
    )
    group.add_argument(
        "-ll",
        "--log-level",
        metavar="[l]",
        choices=sorted(LEVELS),
        help="use level l for the logger (critical, error, warn, info, debug); overrides -q/-v/-d",
    )
    return group


def add_network_options(
    parser: argparse.ArgumentParser, *, server: bool, default_aet: str
) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("Network Options")
    if server:
        group.add_argument(
            "-aet",
            "--ae-title",
            metavar="[a]etitle",
            default=default_aet,
            help=f"set my AE title (default: {default_aet})",
        )
    else:
        group.add_argument(
            "-aet",
            "--calling-aet",
            dest="ae_title",
            metavar="[a]etitle",
            default=default_aet,
            help=f"set my calling AE title (default: {default_aet})",
        )
        group.add_argument(
            "-aec",
            "--called-aet",
            metavar="[a]etitle",
            default="ANY-SCP",
            help="set called AE title of peer (default: ANY-SCP)",
        )
    for short, long, what, default in (
        ("-ta", "--acse-timeout", "ACSE messages", 30.0),
        ("-td", "--dimse-timeout", "DIMSE messages", 30.0),
        ("-tn", "--network-timeout", "the network (no data received)", 60.0),
    ):
        group.add_argument(
            short,
            long,
            metavar="[s]econds",
            type=_seconds,
            default=default,
            help=f"timeout for {what} (default: {default:g} s, 0 for none)",
        )
    group.add_argument(
        "-pdu",
        "--max-pdu",
        metavar="[n]umber of bytes",
        type=_max_pdu,
        default=1 << 20,
        help="set max receive pdu to n bytes (0 for unlimited, default: 1048576)",
    )
    group.add_argument(
        "-ba",
        "--bind-address",
        metavar="[a]ddress",
        default="",
        help=(
            "the address of the network interface to listen on: IPv4 or IPv6 (:: is every "
            "IPv6 interface, ::1 the IPv6 loopback); if unset, listen on all interfaces, "
            "IPv4 and IPv6"
            if server
            else "the local address to connect from (default: any)"
        ),
    )
    return group


DEFAULT_WINDOW_SCU = 8
DEFAULT_WINDOW_SCP = 16


def add_window_option(group: argparse._ArgumentGroup, *, server: bool) -> None:
    """The asynchronous operations window (PS3.7 D.3.3.3), for apps that pipeline."""
    if server:
        group.add_argument(
            "--operations-window",
            dest="ops_performed",
            metavar="[n]umber",
            type=positive_int,
            default=DEFAULT_WINDOW_SCP,
            help="(dimse) when the peer proposes an asynchronous operations window, let "
            "it have up to n requests outstanding, answered in order; 1 keeps the "
            f"association synchronous (default: {DEFAULT_WINDOW_SCP})",
        )
    else:
        group.add_argument(
            "--operations-window",
            dest="ops_invoked",
            metavar="[n]umber",
            type=positive_int,
            default=DEFAULT_WINDOW_SCU,
            help="(dimse) propose an asynchronous operations window of n outstanding "
            "requests: with a peer that agrees, the next request goes out before the "
            "last response is in; a peer that does not answer the proposal keeps it "
            f"at 1; 1 proposes nothing, as dcmtk and pynetdicom (default: {DEFAULT_WINDOW_SCU})",
        )


def add_server_options(group: argparse._ArgumentGroup, max_associations: bool = True) -> None:
    """dimse extras for SCPs: who may associate, how many at once, where the port went."""
    group.add_argument(
        "--require-calling-aet",
        metavar="[a]etitle",
        action="append",
        default=[],
        help="(dimse) accept associations only from this calling AE title; repeat for "
        "more (others get A-ASSOCIATE-RJ calling AE title not recognized)",
    )
    group.add_argument(
        "--require-called-aet",
        action="store_true",
        help="(dimse) reject associations whose called AE title is not my AE title",
    )
    if max_associations:
        group.add_argument(
            "--max-associations",
            metavar="[n]umber",
            type=positive_int,
            default=10,
            help="(dimse) at most n associations at once; more get A-ASSOCIATE-RJ "
            "local limit exceeded (default: 10)",
        )
    group.add_argument(
        "--port-file",
        metavar="[f]ile",
        help="(dimse) once listening, write the bound TCP port to file f "
        "(useful with port 0: the system picks a free port)",
    )


def add_request_syntax_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Transfer Syntax Options").add_mutually_exclusive_group()
    group.add_argument(
        "-xe",
        "--request-little",
        dest="request_syntax",
        action="store_const",
        const=ExplicitVRLittleEndian,
        help="request explicit VR little endian TS only",
    )
    group.add_argument(
        "-xb",
        "--request-big",
        dest="request_syntax",
        action="store_const",
        const=ExplicitVRBigEndian,
        help="request explicit VR big endian TS only",
    )
    group.add_argument(
        "-xi",
        "--request-implicit",
        dest="request_syntax",
        action="store_const",
        const=ImplicitVRLittleEndian,
        help="request implicit VR little endian TS only",
    )


def add_accept_syntax_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Preferred Transfer Syntaxes",
        wrap(
            "every transfer syntax is accepted; these choose which one wins when the "
            "requestor proposes several",
        ),
    ).add_mutually_exclusive_group()
    for flags, value, text in (
        (("-x=", "--prefer-uncompr"), "uncompr", "prefer explicit VR local byte order (default)"),
        (("-xe", "--prefer-little"), "little", "prefer explicit VR little endian TS"),
        (("-xb", "--prefer-big"), "big", "prefer explicit VR big endian TS"),
        (("-xi", "--implicit"), "implicit", "accept implicit VR little endian TS only"),
    ):
        group.add_argument(*flags, dest="prefer", action="store_const", const=value, help=text)


def accepted_syntaxes(prefer: str | None) -> list[str]:
    """Our preference order for accepted contexts (the acceptor's order wins)."""
    native = ExplicitVRBigEndian if sys.byteorder == "big" else ExplicitVRLittleEndian
    first = {"big": ExplicitVRBigEndian, "little": ExplicitVRLittleEndian}.get(prefer or "", native)
    if prefer == "implicit":
        return [ImplicitVRLittleEndian]
    head = [
        first,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
        ExplicitVRBigEndian,
    ]
    from pydicom.uid import AllTransferSyntaxes  # every syntax pydicom knows of PS3.6

    ordered = dict.fromkeys([*head, *AllTransferSyntaxes])
    return [str(uid) for uid in ordered]


def add_tls_options(parser: argparse.ArgumentParser, *, server: bool) -> None:
    group = parser.add_argument_group(
        "TLS Options (dimse)", "DICOM over TLS (PS3.15 B.1); any --tls-* option implies --tls"
    )
    group.add_argument("--tls", action="store_true", help="use TLS")
    group.add_argument(
        "--tls-cert",
        metavar="[f]ile",
        help="my certificate chain, PEM"
        + (" (required with --tls)" if server else " (client certificate for mutual TLS)"),
    )
    group.add_argument(
        "--tls-key",
        metavar="[f]ile",
        help="my private key, PEM (default: read from the --tls-cert file)",
    )
    group.add_argument(
        "--tls-ca",
        metavar="[f]ile",
        help=(
            "require a client certificate signed by these CA certificates (PEM): mutual TLS"
            if server
            else "verify the peer's certificate against these CA certificates (PEM) "
            "instead of the system's"
        ),
    )
    if not server:
        group.add_argument(
            "--tls-no-verify",
            action="store_true",
            help="do not verify the peer's certificate (testing only)",
        )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a timeout cannot be negative")
    return value


def _max_pdu(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes") from None
    if value != 0 and not 4096 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError("use 0 (unlimited) or 4096 to 4294967295 bytes")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not in 0..65535")
    return value
