"""``dimse storescu``: send DICOM files and directories with C-STORE, then summarise.

Files are scanned first (the File Meta header only, :func:`dimse.part10.read_file_meta`;
pydicom for files without one) so that exactly the presentation contexts they need are
proposed, and the files go out as their bytes are - never decoded unless the peer did
not accept their transfer syntax. Each (SOP class, transfer syntax) pair gets a
context of its own, plus an Explicit/Implicit VR Little Endian fallback per SOP class:
an acceptor picks *its* preferred syntax within a context, so offering a file's own
syntax alone is what lets a compressed file travel compressed. More than 128 contexts
open further associations, one after the other. A file that fails (unreadable, its
SOP class refused, a failure status) is counted and the rest are still sent.

With a peer that agrees to an asynchronous operations window (``--operations-window``,
PS3.7 D.3.3.3; dimse storescp does, dcmtk and pynetdicom keep it at 1) the next files
go out before the last responses are in; the statuses are the same either way.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import attrs

from dimse import service_classes
from dimse._service_base import ServiceClass
from dimse._status_base import Category
from dimse.ae import AE
from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.apps._common import AppError
from dimse.association import Association
from dimse.errors import DimseError
from dimse.negotiation import RequestedContext
from dimse.part10 import FileMeta, Part10Error, ScannedFile, is_valid_uid, read_file_meta
from dimse.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

__all__ = ["Item", "main", "plan_batches", "scan"]

APP = "storescu"
LOGGER = logging.getLogger("dimse.apps.storescu")
EXIT_CODES = (0, 1, 2, 3, 4, 5, 130)
MAX_CONTEXTS = 128
FALLBACK = (str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian))


@attrs.define(eq=False)
class Item:
    """One file to send and what became of it."""

    path: Path
    size: int = 0
    sop_class: str = ""
    syntax: str = ""
    status: int | None = None  # the C-STORE response status
    meaning: str = ""  # "Success", "Failure: Out of resources", local failure text
    category: Category | None = None
    problem: str | None = None  # not sent: why (one line)
    meta: FileMeta | None = None  # its PS3.10 header, when it has one


# -- input ---------------------------------------------------------------------------------
def collect(paths: Iterable[str], recurse: bool) -> Iterator[Item]:
    """Files named, and files in directories named (all levels with -r), sorted."""
    for text in paths:
        path = Path(text)
        if path.is_dir():
            if recurse:
                for folder, dirs, files in os.walk(path):
                    dirs.sort()
                    for name in sorted(files):
                        yield Item(Path(folder) / name)
            else:
                for child in sorted(path.iterdir()):
                    if child.is_file():
                        yield Item(child)
        else:
            yield Item(path)


def scan(item: Item) -> None:
    """Fill in the SOP class and transfer syntax, or ``problem`` if the file is unusable."""
    try:
        item.size = item.path.stat().st_size
        meta = read_file_meta(item.path)
        item.sop_class, item.syntax = meta.sop_class_uid, meta.transfer_syntax_uid
        item.meta = meta
    except Part10Error:
        _scan_dataset(item)
    except OSError as exc:
        item.problem = f"cannot read: {exc.strerror or exc}"
        return
    if item.problem is None and not is_valid_uid(item.sop_class):
        item.problem = f"not a DICOM file: invalid SOP Class UID {item.sop_class!r}"
    elif item.problem is None and not is_valid_uid(item.syntax):
        item.problem = f"invalid Transfer Syntax UID {item.syntax!r}"


def _scan_dataset(item: Item) -> None:
    """A file without a PS3.10 header: a bare data set, if pydicom can make one of it."""
    from pydicom import dcmread

    try:
        dataset = dcmread(
            item.path, force=True, stop_before_pixels=True, specific_tags=["SOPClassUID"]
        )
        sop_class = str(dataset.get("SOPClassUID", "") or "")
        implicit, little = dataset.original_encoding
    except Exception as exc:
        item.problem = f"not a DICOM file ({type(exc).__name__})"
        return
    if not sop_class:
        item.problem = "not a DICOM file (no File Meta header and no SOP Class UID)"
        return
    item.sop_class = sop_class
    if implicit in (True, None):
        item.syntax = str(ImplicitVRLittleEndian)
    else:
        item.syntax = str(ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian)


# -- presentation contexts -------------------------------------------------------------------
def contexts_for_class(syntaxes: Iterable[str], forced: str | None) -> list[tuple[str, ...]]:
    """Transfer syntax lists to propose for one SOP class (see the module docstring)."""
    if forced:
        return [(forced,)]
    own = list(dict.fromkeys(syntaxes))
    contexts: list[tuple[str, ...]] = [(ts,) for ts in own]
    fallback = tuple(ts for ts in FALLBACK if ts not in own)
    if fallback:
        contexts.append(fallback)
    return contexts


def plan_batches(
    items: list[Item], forced: str | None, limit: int = MAX_CONTEXTS
) -> list[tuple[list[RequestedContext], list[Item]]]:
    """Group the sendable files into associations of at most ``limit`` contexts.

    SOP classes are packed first-fit in order of first appearance; files keep their
    order within each association.
    """
    by_class: dict[str, list[str]] = {}
    for item in items:
        by_class.setdefault(item.sop_class, []).append(item.syntax)
    batches: list[tuple[list[RequestedContext], set[str]]] = []
    for sop_class, syntaxes in by_class.items():
        wanted = [RequestedContext(sop_class, ts) for ts in contexts_for_class(syntaxes, forced)]
        for contexts, classes in batches:
            if len(contexts) + len(wanted) <= limit:
                contexts.extend(wanted)
                classes.add(sop_class)
                break
        else:
            batches.append((wanted, {sop_class}))
    return [
        (contexts, [item for item in items if item.sop_class in classes])
        for contexts, classes in batches
    ]


# -- statuses ------------------------------------------------------------------------------
@cache
def _service_class(sop_class: str) -> type[ServiceClass]:
    for cls in service_classes.SERVICE_CLASSES.values():
        if cls.supports(sop_class) and "C-STORE" in cls.statuses:
            return cls
    return service_classes.StorageServiceClass


def record_status(item: Item, status: int) -> None:
    item.status = status
    entry = _service_class(item.sop_class).status_entry(status, "C-STORE")
    if entry is None:
        from dimse import statuses

        entry = statuses.lookup(status, dimse="C-STORE")
    item.category = entry.category if entry is not None else Category.FAILURE
    item.meaning = common.status_meaning(entry)


# -- progress and summary --------------------------------------------------------------------
class Progress:
    """A one-line progress bar on stderr (``\\r``), only when stderr is a terminal."""

    def __init__(self, total_files: int, total_bytes: int, enabled: bool) -> None:
        self.total_files = total_files
        self.total_bytes = max(total_bytes, 1)
        self.enabled = enabled
        self._last = 0.0
        self._shown = False

    def update(self, files: int, sent_bytes: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        fraction = min(sent_bytes / self.total_bytes, 1.0)
        bar = "#" * int(fraction * 30)
        sys.stderr.write(
            f"\r{files}/{self.total_files} files [{bar:<30}] {fraction:4.0%} "
            f"{sent_bytes / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB"
        )
        sys.stderr.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
            self._shown = False


def summary(items: list[Item], where: str, elapsed: float) -> list[str]:
    stored = [i for i in items if i.category in (Category.SUCCESS, Category.WARNING)]
    sent_bytes = sum(i.size for i in items if i.status is not None)
    rate = sent_bytes / elapsed / 1e6 if elapsed > 0 else 0.0
    lines = [
        f"{len(items)} file(s) to {where}: {len(stored)} stored, "
        f"{len(items) - len(stored)} failed; {sent_bytes / 1e6:.1f} MB sent in "
        f"{elapsed:.2f} s ({rate:.1f} MB/s)"
    ]
    counts: Counter[tuple[int, str]] = Counter()
    for item in items:
        if item.status is not None:
            counts[(item.status, item.meaning)] += 1
        else:
            counts[(-1, f"Failure: not sent: {_kind(item.problem or '')}")] += 1
    lines.append(f"  {'count':>6}  {'status':<6}  meaning")
    for (code, meaning), count in sorted(counts.items(), key=lambda kv: (kv[0][0] < 0, kv[0])):
        status = f"0x{code:04X}" if code >= 0 else "-"
        lines.append(f"  {count:>6}  {status:<6}  {meaning}")
    return lines


def _kind(problem: str) -> str:
    """The summary line a local failure counts under (details were logged per file)."""
    return problem.split(" (", 1)[0].split(": ", 1)[0]


# -- the app -------------------------------------------------------------------------------
def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = options.make_parser(
        prog,
        "The storescu application implements a Service Class User (SCU) for the Storage "
        "Service Class. It sends each DICOM file on the command line (and each file in "
        "the directories given) with C-STORE over one association, proposing only the "
        "presentation contexts the files need, and prints a summary of the response "
        "statuses. Files are sent as they are; one whose transfer syntax the peer did "
        "not accept is converted when pydicom can.",
        options.exit_codes_epilog(EXIT_CODES, "at least one file was not stored"),
    )
    params = parser.add_argument_group("Parameters")
    params.add_argument("addr", help="TCP/IP address or hostname of DICOM peer")
    params.add_argument("port", type=options.port_number, help="TCP/IP port number of peer")
    params.add_argument("path", nargs="+", help="DICOM file or directory to be transmitted")
    options.add_general_options(parser, APP)
    inputs = parser.add_argument_group("Input Options")
    inputs.add_argument(
        "-r", "--recurse", action="store_true", help="recursively search the given directory"
    )
    network = options.add_network_options(parser, server=False, default_aet="STORESCU")
    options.add_window_option(network, server=False)
    options.add_request_syntax_options(parser)
    misc = parser.add_argument_group("Miscellaneous Options")
    misc.add_argument(
        "-cx",
        "--required-contexts",
        action="store_true",
        help="only request the presentation contexts required for the input DICOM "
        "file(s) (always the case here; accepted for compatibility)",
    )
    options.add_tls_options(parser, server=False)
    return parser


async def send(args: argparse.Namespace, level: int) -> int:
    ae = AE(common.check_ae_title(args.ae_title, "-aet"))
    common.check_ae_title(args.called_aet, "-aec")
    common.configure_ae(ae, args)
    tls = common.tls_context(args, server=False)
    items = list(collect(args.path, args.recurse))
    if not items:
        raise AppError("no files to send", common.EXIT_FAILED)
    for item in items:
        scan(item)
        if item.problem is not None:
            LOGGER.error("%s: %s", item.path, item.problem)
    sendable = [item for item in items if item.problem is None]
    where = common.format_address(args.addr, args.port)
    progress = Progress(
        len(sendable),
        sum(i.size for i in sendable),
        sys.stderr.isatty() and logging.INFO < level <= logging.CRITICAL,
    )
    handlers = common.association_handlers(LOGGER, level)
    started = time.monotonic()
    fatal: AppError | None = None
    done = [0, 0]
    try:
        for contexts, batch in plan_batches(sendable, args.request_syntax):
            if fatal is not None:
                for item in batch:
                    item.problem = "no association"
                continue
            LOGGER.info("Requesting association with %s (%d contexts)", where, len(contexts))
            try:
                assoc = await common.connect(ae, args, handlers, tls, contexts)
            except AppError as exc:
                fatal = exc
                for item in batch:
                    item.problem = "no association"
                continue
            window = common.operations_window(assoc, args.ops_invoked)
            fatal = await _send_batch(assoc, batch, progress, done, where, window)
    finally:
        progress.clear()
    elapsed = time.monotonic() - started
    if not args.quiet:
        print("\n".join(summary(items, where, elapsed)), flush=True)
    if fatal is not None:
        raise fatal
    failed = [i for i in items if i.category not in (Category.SUCCESS, Category.WARNING)]
    return common.EXIT_FAILED if failed else common.EXIT_OK


async def _send_batch(
    assoc: Association,
    batch: list[Item],
    progress: Progress,
    done: list[int],
    where: str,
    window: int,
) -> AppError | None:
    """Send one association's files; an AppError if the association died under us.

    ``window`` + 1 lanes share the file list: each prepares its next file (reads it,
    checks its header) while the others' requests are on the wire or answered, and the
    association lets at most the agreed window of them be outstanding. With a
    synchronous peer that still takes the reading of file n+1 off the critical path.
    """
    accepted = {c.abstract_syntax for c in assoc.accepted_contexts}
    fatal: list[AppError] = []

    async def one(item: Item) -> None:
        if fatal:
            item.problem = "association ended before it was sent"
            return
        ended = await _send_one(assoc, item, accepted, progress, where)
        done[0] += 1
        done[1] += item.size
        progress.update(done[0], done[1])
        if ended is not None and not fatal:
            fatal.append(ended)

    try:
        await common.in_lanes(window + 1, batch, one)
    except BaseException:
        assoc.abort()
        raise
    if fatal:
        return fatal[0]
    if assoc.is_alive:
        LOGGER.info("Releasing association")
        await assoc.release()
    return None


async def _send_one(
    assoc: Association, item: Item, accepted: set[str], progress: Progress, where: str
) -> AppError | None:
    """C-STORE one file; a per-file failure is recorded, a dead association returned."""
    if item.sop_class not in accepted:
        item.problem = "SOP class not accepted by the peer"
        _file_error(progress, item, f"{UID(item.sop_class).name} was not accepted")
        return None
    try:
        source = ScannedFile(item.path, item.meta) if item.meta is not None else item.path
        rsp = await assoc.send_c_store(source)
    except (DimseError, OSError, ValueError) as exc:
        if assoc.is_alive:  # this file's fault: unreadable, cannot be converted
            item.problem = "cannot send: " + str(exc).removeprefix(f"{item.path}: ")
            _file_error(progress, item, item.problem)
            return None
        fatal = _fatal(exc, where)
        item.problem = "association ended while it was sent"
        _file_error(progress, item, fatal.message)
        return fatal
    record_status(item, rsp.status)
    _report(progress, item, rsp.error_comment)
    return None


def _fatal(exc: Exception, where: str) -> AppError:
    error = common.failure(exc, where)
    if isinstance(error, AppError):
        return error
    return AppError(f"association ended: {exc}", common.EXIT_ABORTED)


def _file_error(progress: Progress, item: Item, text: str) -> None:
    progress.clear()
    LOGGER.error("%s: %s", item.path, text)


def _report(progress: Progress, item: Item, comment: str | None) -> None:
    assert item.status is not None
    detail = f"0x{item.status:04X} {item.meaning}" + (f" ({comment})" if comment else "")
    if item.category is Category.SUCCESS:
        LOGGER.info("%s: %s", item.path, detail)
    elif item.category is Category.WARNING:
        progress.clear()
        LOGGER.warning("%s: %s", item.path, detail)
    else:
        progress.clear()
        LOGGER.error("%s: %s", item.path, detail)


def main(argv: list[str] | None = None, prog: str = "dimse storescu") -> int:
    args = build_parser(prog).parse_args(argv)
    level = common.setup_logging(args)
    common.keep_freed_memory()
    return common.run_async(APP, args, lambda: send(args, level))
