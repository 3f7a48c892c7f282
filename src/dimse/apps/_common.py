"""What the apps share at run time: logging, TLS, connecting, serving, failing well.

Expected failures - a refused connection, a rejected association, a bad TLS file - end
the app with one line on stderr (``dimse storescu: cannot connect to ...``) and an exit
status from :mod:`dimse.apps._options`, never a traceback. Only bugs produce tracebacks.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import ssl
import sys
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from dimse._status_base import StatusEntry
from dimse.ae import AE, StoreToDirectory
from dimse.apps._options import (
    EXIT_ABORTED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    LEVELS,
)
from dimse.association import Association
from dimse.errors import (
    AbortReason,
    AbortSource,
    AssociationAborted,
    AssociationRejected,
    DimseError,
)
from dimse.evt import EVT_ABORTED, EVT_ESTABLISHED, EVT_REJECTED, EVT_RELEASED, Event
from dimse.evt import HandlerBinding as HandlerBinding
from dimse.log import LOG_FORMAT, dump_handlers
from dimse.negotiation import RejectReason

__all__ = [
    "EXIT_ABORTED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "VERIFICATION",
    "AppError",
    "association_handlers",
    "connect",
    "in_lanes",
    "keep_freed_memory",
    "operations_window",
    "run_async",
    "serve_until_signalled",
    "tls_context",
]

VERIFICATION = "1.2.840.10008.1.1"
_Item = TypeVar("_Item")


class AppError(Exception):
    """An expected failure: print ``message`` as one line, exit with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def tls_context(args: argparse.Namespace, *, server: bool) -> ssl.SSLContext | None:
    """The SSL context the options ask for, or None; AppError for unusable files."""
    wanted = (
        args.tls
        or args.tls_cert
        or args.tls_key
        or args.tls_ca
        or getattr(args, "tls_no_verify", False)
    )
    if not wanted:
        return None
    purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
    if args.tls_key and not args.tls_cert:
        raise AppError("--tls-key needs --tls-cert", EXIT_USAGE)
    if server and not args.tls_cert:
        raise AppError("a TLS server needs --tls-cert (and --tls-key)", EXIT_USAGE)
    try:
        # With a CA file, only those CAs are trusted (not the system's as well).
        context = ssl.create_default_context(purpose, cafile=args.tls_ca or None)
        if args.tls_cert:
            context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise AppError(f"cannot load TLS files: {_os_text(exc)}", EXIT_USAGE) from None
    if server and args.tls_ca:
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no entry
    if not server and args.tls_no_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


# -- configuration -------------------------------------------------------------------------
def configure_ae(ae: AE, args: argparse.Namespace) -> None:
    ae.acse_timeout = args.acse_timeout or None
    ae.dimse_timeout = args.dimse_timeout or None
    ae.network_timeout = args.network_timeout or None
    ae.maximum_pdu_size = args.max_pdu
    if hasattr(args, "require_called_aet"):
        ae.require_called_aet = args.require_called_aet
        ae.require_calling_aet = list(args.require_calling_aet)
    if hasattr(args, "max_associations"):
        ae.maximum_associations = args.max_associations
    if hasattr(args, "ops_invoked"):
        ae.maximum_operations_invoked = args.ops_invoked
    if hasattr(args, "ops_performed"):
        ae.maximum_operations_performed = args.ops_performed


def operations_window(assoc: Association, proposed: int) -> int:
    """How many requests to keep outstanding: the agreed window, capped at what we
    proposed (an agreed 0 means unlimited)."""
    agreed = assoc.negotiated.max_operations_invoked
    return proposed if agreed == 0 else min(agreed, proposed)


async def in_lanes(
    lanes: int, items: Iterable[_Item], work: Callable[[_Item], Awaitable[None]]
) -> None:
    """``work`` on every item, ``lanes`` at a time: each lane takes the next item as it
    finishes one, so with an agreed asynchronous window that many requests are
    outstanding, and items still go out in order."""
    queue = iter(items)

    async def lane() -> None:
        for item in queue:
            await work(item)

    await asyncio.gather(*(lane() for _ in range(max(1, lanes))))


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of returning it to the system.

    Each received PDU and each chunk read from a file is a fresh buffer of up to a few
    MiB. glibc serves such sizes with mmap, or trims them off the heap top once freed,
    so every buffer cost page faults on pages the kernel had to find and zero again:
    storescp took ~150,000 minor faults per GB received (ten times more on a VM whose
    host reclaims freed memory), against ~2,000 with freed memory kept. The apps that
    move bulk data call this once; memory stays bounded by the peak in use. False (and
    nothing changed) where the C library is not glibc.
    """
    if not sys.platform.startswith("linux") or os.environ.get("DIMSE_NO_MALLOPT"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    mmap_ok: bool = mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1
    trim_ok: bool = mallopt(_M_TRIM_THRESHOLD, 256 << 20) == 1
    return mmap_ok and trim_ok


def check_ae_title(title: str, option: str) -> str:
    """PS3.5 AE: 1-16 characters of the default repertoire, no backslash or control."""
    if not 0 < len(title.strip()) <= 16:
        raise AppError(f"{option} {title!r}: an AE title is 1 to 16 characters", EXIT_USAGE)
    if not title.isascii() or any(c == "\\" or ord(c) < 32 or ord(c) == 127 for c in title):
        raise AppError(
            f"{option} {title!r}: an AE title is ASCII without backslash or control characters",
            EXIT_USAGE,
        )
    return title


def output_sink(args: argparse.Namespace) -> StoreToDirectory:
    """``-od``: the directory received instances are written to (created if missing)."""
    directory = Path(args.output_directory)
    if directory.exists() and not directory.is_dir():
        raise AppError(f"output directory {directory} is a file, not a directory", EXIT_USAGE)
    try:
        sink = StoreToDirectory(directory, fsync=not args.no_fsync)
    except OSError as exc:
        text = exc.strerror or str(exc)
        raise AppError(f"cannot create output directory {directory}: {text}", EXIT_USAGE) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise AppError(f"output directory {directory} is not writable", EXIT_USAGE)
    return sink


def setup_logging(args: argparse.Namespace) -> int:
    """One stderr handler on the "dimse" logger; returns the level chosen."""
    level = logging.WARNING
    if args.log_level:
        level = LEVELS[args.log_level]
    elif args.quiet:
        level = logging.CRITICAL + 10
    elif args.verbose:
        level = logging.INFO
    elif args.debug:
        level = logging.DEBUG
    logger = logging.getLogger("dimse")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    if level > logging.DEBUG:
        warnings.simplefilter("ignore")  # pydicom's warnings about odd files: not ours to show
        logging.getLogger("pydicom").setLevel(logging.CRITICAL + 10)
    return level


def association_handlers(logger: logging.Logger, level: int) -> list[HandlerBinding]:
    """Log association life events at INFO (-v) and dump PDUs/messages at DEBUG (-d)."""
    handlers: list[HandlerBinding] = []
    if level <= logging.INFO:

        def established(event: Event) -> None:
            assoc = event.assoc
            negotiated = assoc.negotiated
            if assoc.is_requestor:
                logger.info("Association accepted by %s", peer_of(assoc))
            else:
                logger.info(
                    "Association established with %s (calling AE %s, called AE %s)",
                    peer_of(assoc),
                    negotiated.calling_ae_title.strip(),
                    negotiated.called_ae_title.strip(),
                )
            window = (negotiated.max_operations_invoked, negotiated.max_operations_performed)
            if window != (1, 1):
                logger.info(
                    "Asynchronous operations window: %s invoked, %s performed",
                    *("unlimited" if n == 0 else n for n in window),
                )

        def released(event: Event) -> None:
            logger.info("Association released (%s)", peer_of(event.assoc))

        def aborted(event: Event) -> None:
            info = event.assoc.abort_info
            text = aborted_text(info) if info is not None else "association aborted"
            logger.info("%s%s (%s)", text[0].upper(), text[1:], peer_of(event.assoc))

        def rejected(event: Event) -> None:
            rejection = event.assoc.rejection
            if not event.assoc.is_requestor and rejection is not None:
                text = rejection_text(rejection).removeprefix("association rejected: ")
                logger.info("Association from %s rejected: %s", peer_of(event.assoc), text)

        handlers += [
            (EVT_ESTABLISHED, established),
            (EVT_RELEASED, released),
            (EVT_ABORTED, aborted),
            (EVT_REJECTED, rejected),
        ]
    if level <= logging.DEBUG:
        handlers += dump_handlers()
    return handlers


def status_meaning(entry: StatusEntry | None) -> str:
    """The category, then the table's words: "Warning: Coercion of data elements"."""
    if entry is None:
        return "Failure: unknown status"
    same = entry.description.lower() == entry.category.value.lower()
    return entry.category.value + ("" if same else f": {entry.description}")


def peer_of(assoc: Association) -> str:
    return format_address(*assoc.peer_address) if assoc.peer_address else "peer"


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- running and failing -------------------------------------------------------------------
async def connect(
    ae: AE,
    args: argparse.Namespace,
    handlers: list[HandlerBinding],
    tls: ssl.SSLContext | None,
    contexts: Any = None,
    ext_neg: Mapping[str, bytes] | None = None,
) -> Association:
    """associate_async, with every expected failure turned into an AppError."""
    where = format_address(args.addr, args.port)
    bind = (args.bind_address, 0) if args.bind_address else None
    try:
        return await ae.associate_async(
            args.addr,
            args.port,
            args.called_aet,
            evt_handlers=handlers,
            contexts=contexts,
            ext_neg=ext_neg,
            tls=tls,
            bind_address=bind,
        )
    except AssociationRejected as exc:
        raise AppError(rejection_text(exc), EXIT_REJECTED) from None
    except AssociationAborted as exc:
        if isinstance(exc, TimeoutError):  # our network timeout: no answer at all
            raise failure(exc, where) from None
        if exc.source is not None:
            raise AppError(aborted_text(exc), EXIT_ABORTED) from None
        # No A-ABORT, no answer: the connection failed (a TLS or a plain peer refusing
        # the other kind, most often), so a network error as -h lists it.
        hint = "does it require a client certificate?" if tls else "does it expect TLS?"
        raise AppError(
            f"{where} closed the connection before answering the association request ({hint})",
            EXIT_NETWORK,
        ) from None
    except BaseException as exc:
        raise failure(exc, where) from None


def rejection_text(exc: AssociationRejected) -> str:
    try:
        reason = RejectReason((exc.source, exc.reason)).description.replace("-", " ")
    except ValueError:
        reason = f"source {exc.source}, reason {exc.reason}"
    later = " (transient: try again later)" if exc.result == 2 else ""
    return f"association rejected: {reason}{later}"


def failure(exc: BaseException, where: str) -> AppError | BaseException:
    """The AppError for an expected exception; anything else is returned unchanged."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, AssociationRejected):
        return AppError(rejection_text(exc), EXIT_REJECTED)
    if isinstance(exc, ssl.SSLError):
        return AppError(f"TLS with {where} failed: {_ssl_text(exc)}", EXIT_NETWORK)
    if isinstance(exc, TimeoutError):
        return AppError(f"timed out: {exc}" if str(exc) else f"{where}: timed out", EXIT_NETWORK)
    if isinstance(exc, AssociationAborted):
        return AppError(aborted_text(exc), EXIT_ABORTED)
    if isinstance(exc, socket.gaierror):
        return AppError(f"cannot resolve {where}: {_os_text(exc)}", EXIT_NETWORK)
    if isinstance(exc, OSError):
        return AppError(f"cannot connect to {where}: {_os_text(exc)}", EXIT_NETWORK)
    if isinstance(exc, DimseError):
        return AppError(str(exc), EXIT_FAILED)
    return exc


def aborted_text(exc: AssociationAborted) -> str:
    """Who aborted and why, in words (the exception carries PS3.8 source/reason codes)."""
    if exc.source is None:
        return "association aborted: the connection closed unexpectedly"
    message = str(exc)
    detail = message.split(": ", 1)[1] if ": " in message else ""
    if detail == "aborted locally":
        return "association aborted"
    if exc.source == AbortSource.SERVICE_PROVIDER:
        try:
            reason = AbortReason(exc.reason or 0).name.lower().replace("_", " ")
        except ValueError:
            reason = f"reason {exc.reason}"
        return f"association aborted by the service provider ({detail or reason})"
    return "association aborted by the peer"


def _os_text(exc: BaseException) -> str:
    """The system's words for an OSError ("Connection refused"), not asyncio's wrapping."""
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _ssl_text(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if exc.reason == "WRONG_VERSION_NUMBER":
        return "the peer does not speak TLS on this port (WRONG_VERSION_NUMBER)"
    return str(exc.reason or exc)


def say(app: str, message: str, quiet: bool) -> None:
    """An error one-liner: ``dimse <app>: <message>`` on stderr (unless -q)."""
    if not quiet:
        print(f"dimse {app}: {message}", file=sys.stderr, flush=True)


def run_async(
    app: str, args: argparse.Namespace, main: Callable[[], Coroutine[Any, Any, int]]
) -> int:
    """Run an app's coroutine; expected failures become a one-liner and an exit code."""
    try:
        return asyncio.run(main())
    except AppError as exc:
        say(app, exc.message, args.quiet)
        return exc.code
    except KeyboardInterrupt:
        say(app, "interrupted", args.quiet)
        return EXIT_INTERRUPTED


async def serve_until_signalled(
    ae: AE,
    args: argparse.Namespace,
    handlers: list[HandlerBinding],
    tls: ssl.SSLContext | None,
    logger: logging.Logger,
) -> int:
    """Listen until SIGINT/SIGTERM, then close (aborting open associations); exit 0."""
    host = args.bind_address
    try:
        server = await ae.serve((host, args.port), evt_handlers=handlers, tls=tls)
    except OSError as exc:
        where = format_address(host or "*", args.port)
        raise AppError(f"cannot listen on {where}: {_os_text(exc)}", EXIT_NETWORK) from None
    assert server.asyncio_server is not None
    bound = [sock.getsockname() for sock in server.asyncio_server.sockets]
    logger.info("Listening on %s", ", ".join(format_address(a[0], a[1]) for a in bound))
    if args.port_file:
        write_port_file(args.port_file, int(bound[0][1]))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # not on this platform/thread
            pass
    try:
        await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await server.close()
    logger.info("Stopped")
    return EXIT_OK


def write_port_file(path: str, port: int) -> None:
    """Atomically, so a reader polling for the file never sees it half-written."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(f"{port}\n", encoding="ascii")
        os.replace(temp, target)
    except OSError as exc:
        raise AppError(f"cannot write --port-file {path}: {_os_text(exc)}", EXIT_USAGE) from None
