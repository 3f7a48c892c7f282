"""What findscu, getscu and movescu share: model flags, the query, C-CANCEL on Ctrl-C.

The query (Identifier) is built as pynetdicom's apps build it - a DICOM file (``-f``)
whose keys ``-k`` adds to or overrides - so existing scripts keep working:

* ``-k PatientName=DOE*`` or ``-k "(0010,0010)=DOE*"`` (dcmtk's ``0010,0010=DOE*``
  too): a key with a value (wild cards and ranges are sent as written, never
  validated against the VR);
* ``-k StudyInstanceUID=`` (or just ``-k StudyInstanceUID``): an empty key, that is a
  universal match for C-FIND or a return key;
* ``-k "ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2"``: a key inside
  item 0 of a sequence (items up to the index are created empty); ``Seq=`` is a
  sequence with no item, ``Seq[0]=`` one with a single empty item;
* ``\\`` separates values (``-k ModalitiesInStudy=CT\\MR``); numbers are converted for
  binary numeric VRs, hex digits for OB/OW/UN.

A request runs under :func:`drive`: the first Ctrl-C sends a C-CANCEL and waits (at
most :data:`CANCEL_WAIT` seconds) for the final response, so what arrived until then
is still reported; a second Ctrl-C, or no answer in time, aborts the association.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from pydicom import config as pydicom_config
from pydicom import dcmread
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from dimse import service_classes
from dimse._service_base import ServiceClass
from dimse._status_base import Category
from dimse.apps import _common as common
from dimse.apps._common import AppError
from dimse.association import Association
from dimse.errors import AssociationAborted, DimseError, UsageError
from dimse.messages import Response
from dimse.qr_scu import ResponseStream, query_model_uid
from dimse.uid import UID

__all__ = [
    "CANCEL_WAIT",
    "Outcome",
    "add_extended_negotiation_options",
    "add_model_options",
    "add_query_options",
    "apply_key",
    "build_identifier",
    "drive",
    "extended_negotiation",
    "key_path",
    "model_uid",
    "request",
    "status_text",
]

LOGGER = logging.getLogger("dimse.apps.qr")
CANCEL_WAIT = 10.0  # seconds for the final response after our C-CANCEL
UPS_PULL = "1.2.840.10008.5.1.4.34.6.3"  # Unified Procedure Step - Pull (findscu -U)

# (flags, dest value, help, services): pynetdicom's model flags plus -PA (dimse).
_MODELS = (
    (("-P", "--patient"), "P", "use patient root information model (default)", "FGM"),
    (("-S", "--study"), "S", "use study root information model", "FGM"),
    (("-O", "--psonly"), "O", "use patient/study only information model", "FGM"),
    (("-W", "--worklist"), "W", "use modality worklist information model", "F"),
    (("-U", "--ups"), "U", "use unified procedure step information model", "F"),
    (
        ("-PA", "--protocol-approval"),
        "PA",
        "(dimse) use the protocol approval information model (PS3.4 Annex II; "
        "no Query/Retrieve Level key)",
        "FGM",
    ),
)
_SERVICE_LETTER = {"C-FIND": "F", "C-GET": "G", "C-MOVE": "M"}


# -- command line --------------------------------------------------------------------------
def add_model_options(parser: argparse.ArgumentParser, dimse: str) -> None:
    group = parser.add_argument_group("Query Information Model Options")
    models = group.add_mutually_exclusive_group()
    for flags, value, text, services in _MODELS:
        if _SERVICE_LETTER[dimse] in services:
            models.add_argument(*flags, dest="model", action="store_const", const=value, help=text)
    parser.set_defaults(model="P")


def add_query_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Query Options")
    group.add_argument(
        "-k",
        "--keyword",
        metavar="[k]eyword: (gggg,eeee)=str, keyword=str",
        action="append",
        default=[],
        help="add or override a query element using either an element tag as "
        "(group,element) or the element's keyword (such as PatientName); an empty "
        "value makes a universal/return key; Sequence[0].Keyword=str reaches into "
        "sequence items",
    )
    group.add_argument(
        "-f",
        "--file",
        metavar="path to [f]ile",
        help="use a DICOM file as the query dataset, if used with -k then the elements "
        "will be added to or overwrite those present in the file",
    )


def add_extended_negotiation_options(parser: argparse.ArgumentParser, dimse: str) -> None:
    group = parser.add_argument_group("Extended Negotiation Options")
    if dimse == "C-FIND":
        for flag, text in (
            ("--relational-query", "request the use of relational queries"),
            ("--dt-matching", "request the use of date-time matching"),
            ("--fuzzy-names", "request the use of fuzzy semantic matching of person names"),
            ("--timezone-adj", "request the use of timezone query adjustment"),
        ):
            group.add_argument(flag, action="store_true", help=text)
    else:
        group.add_argument(
            "--relational-retrieval",
            action="store_true",
            help="request the use of relational retrieval",
        )
    group.add_argument(
        "--enhanced-conversion",
        action="store_true",
        help="request the use of enhanced multi-frame image conversion",
    )


def check_query_given(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.keyword and not args.file:
        parser.error("-f and/or -k must be specified")


def model_uid(args: argparse.Namespace, dimse: str) -> UID:
    if args.model == "U":
        return UID(UPS_PULL)
    return query_model_uid(dimse, args.model)


def extended_negotiation(args: argparse.Namespace, dimse: str, uid: str) -> dict[str, bytes]:
    """The SOP Class Extended Negotiation item the flags ask for (PS3.4 C.5.1.1, C.5.2.1,
    C.5.3.1: one byte per option, in this order), or none."""
    if dimse == "C-FIND":
        wanted = [
            args.relational_query,
            args.dt_matching,
            args.fuzzy_names,
            args.timezone_adj,
            args.enhanced_conversion,
        ]
    else:
        wanted = [args.relational_retrieval, args.enhanced_conversion]
    if not any(wanted) or args.model in ("W", "U"):
        return {}
    return {str(uid): bytes(int(flag) for flag in wanted)}


# -- the identifier ------------------------------------------------------------------------
_COMPONENT = re.compile(
    r"^(?:\(?(?P<group>[0-9A-Fa-f]{4}),(?P<element>[0-9A-Fa-f]{4})\)?|(?P<keyword>[A-Za-z]\w*))"
    r"(?:\[(?P<item>\d+)\])?$"
)
_INTS = frozenset({"US", "SS", "UL", "SL", "UV", "SV"})
_FLOATS = frozenset({"FL", "FD"})
_BYTES = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def _usage(message: str) -> AppError:
    return AppError(message, common.EXIT_USAGE)


def _component(text: str, key: str) -> tuple[int, int | None]:
    found = _COMPONENT.match(text.strip())
    if found is None:
        raise _usage(f"-k {key}: {text!r} is neither a keyword nor (gggg,eeee)")
    if found["keyword"]:
        tag = tag_for_keyword(found["keyword"])
        if tag is None:
            raise _usage(f"-k {key}: unknown keyword {found['keyword']!r}")
    else:
        tag = int(found["group"] + found["element"], 16)
    item = int(found["item"]) if found["item"] is not None else None
    return int(tag), item


def _vr(tag: int, key: str) -> str:
    try:
        return str(dictionary_VR(tag)).split(" or ")[0]
    except KeyError:
        raise _usage(f"-k {key}: {Tag(tag)} is not in the DICOM dictionary") from None


def _value(vr: str, text: str, key: str) -> Any:
    if text == "":
        return None
    parts = text.split("\\")
    try:
        if vr in _INTS:
            values: list[Any] = [int(p, 0) for p in parts]
        elif vr in _FLOATS:
            values = [float(p) for p in parts]
        elif vr in _BYTES:
            return bytes.fromhex(text)
        elif vr == "AT":
            values = [int(p.strip("()").replace(",", ""), 16) for p in parts]
        else:
            return text  # pydicom splits text VRs on "\" itself (not LT, ST, UT)
    except ValueError:
        raise _usage(f"-k {key}: {text!r} is not a valid {vr} value") from None
    return values[0] if len(values) == 1 else values


def apply_key(ds: Dataset, key: str) -> None:
    """Add or override one ``-k`` key (see the module docstring for the syntax)."""
    path, _, text = key.partition("=")
    components = [_component(part, key) for part in path.split(".")]
    current = ds
    for tag, item in components[:-1]:
        if item is None:
            raise _usage(f"-k {key}: {Tag(tag)} needs an item number ([0]) to go inside")
        current = _item(current, tag, item, key)
    tag, item = components[-1]
    vr = _vr(tag, key)
    if item is not None:
        if vr != "SQ":
            raise _usage(f"-k {key}: {keyword_for_tag(tag) or Tag(tag)} is not a sequence")
        if text:
            raise _usage(f"-k {key}: a sequence item takes keys, not a value")
        _item(current, tag, item, key)
        return
    if vr == "SQ":
        if text:
            raise _usage(f"-k {key}: a sequence takes items (Sequence[0].Keyword=value)")
        current[tag] = DataElement(tag, "SQ", Sequence())
        return
    current[tag] = DataElement(tag, vr, _value(vr, text, key), validation_mode=_IGNORE)


_IGNORE = pydicom_config.IGNORE  # wild cards and ranges are not valid values of their VRs


def _item(ds: Dataset, tag: int, index: int, key: str) -> Dataset:
    """Item ``index`` of sequence ``tag`` in ``ds``, creating the sequence and items."""
    if _vr(tag, key) != "SQ":
        raise _usage(f"-k {key}: {keyword_for_tag(tag) or Tag(tag)} is not a sequence")
    element = ds.get(tag)
    if element is None or element.VR != "SQ" or element.value is None:
        element = DataElement(tag, "SQ", Sequence())
        ds[tag] = element
    items = element.value
    while len(items) <= index:
        items.append(Dataset())
    found: Dataset = items[index]
    return found


def key_path(key: str) -> list[int]:
    """A ``-k`` key's place as ``[tag, item, tag, ...]`` (the path findscu's columns use)."""
    path: list[int] = []
    for part in key.partition("=")[0].split("."):
        tag, item = _component(part, key)
        path.append(tag)
        if item is not None:
            path.append(item)
    return path


def build_identifier(args: argparse.Namespace) -> Dataset:
    """The -f file's data set (without its File Meta), then every -k key in order;
    non-ASCII keys without a Specific Character Set get UTF-8 (ISO_IR 192)."""
    identifier = Dataset()
    if args.file:
        try:
            read = dcmread(args.file, force=True)
        except (OSError, ValueError, EOFError, TypeError) as exc:
            text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise _usage(f"cannot read the query file {args.file}: {text}") from None
        for element in read:
            identifier.add(element)
        if len(identifier) == 0 and Path(args.file).stat().st_size > 0:
            raise _usage(f"{args.file}: not a DICOM data set")
    for key in args.keyword:
        apply_key(identifier, key)
    if "SpecificCharacterSet" not in identifier and not all(k.isascii() for k in args.keyword):
        identifier.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: what a shell hands us
    return identifier


# -- statuses ------------------------------------------------------------------------------
def service_class(uid: str, dimse: str) -> type[ServiceClass] | None:
    for cls in service_classes.SERVICE_CLASSES.values():
        if cls.supports(uid) and dimse in cls.statuses:
            return cls
    return None


def status_text(rsp: Response, uid: str) -> str:
    """``0xA900 Failure: Identifier does not match SOP class (comment)``."""
    entry = rsp.status_entry(service_class(uid, rsp.dimse))
    comment = f" ({rsp.error_comment.strip()})" if rsp.error_comment else ""
    offending = ""
    if rsp.offending_element:
        offending = " [offending: " + ", ".join(str(Tag(t)) for t in rsp.offending_element) + "]"
    return f"0x{rsp.status:04X} {common.status_meaning(entry)}{comment}{offending}"


# -- running one request -------------------------------------------------------------------
@attrs.define
class Outcome:
    """How a request ended: its final response (None if the association died first)."""

    final: Response | None = None
    identifier: Dataset | None = None
    interrupted: bool = False


async def drive(
    assoc: Association,
    stream: ResponseStream,
    on_pending: Callable[[Response, Dataset | None], None],
    where: str,
) -> Outcome:
    """Read the responses of ``stream`` to the final one, C-CANCEL on the first SIGINT
    and abort on the second or when the final response is late (see module docstring)."""
    loop = asyncio.get_running_loop()
    outcome = Outcome()
    wait = min(CANCEL_WAIT, assoc.dimse_timeout or CANCEL_WAIT)
    scope: list[asyncio.Timeout] = []
    tasks: list[asyncio.Task[bool]] = []

    def interrupted() -> None:
        if outcome.interrupted or not scope:
            LOGGER.warning("Interrupted again: aborting the association")
            assoc.abort()
            return
        outcome.interrupted = True
        LOGGER.warning("Interrupted: sending C-CANCEL (Ctrl-C again to abort)")
        task = loop.create_task(assoc.send_c_cancel(stream.message_id))
        task.add_done_callback(_log_cancel_failure)
        tasks.append(task)
        scope[0].reschedule(loop.time() + wait)

    installed = _install(loop, interrupted)
    try:
        async with asyncio.timeout(None) as timer:
            scope.append(timer)
            await stream.start()
            async for rsp, identifier in stream:
                if rsp.is_pending:
                    on_pending(rsp, identifier)
                else:
                    outcome.final, outcome.identifier = rsp, identifier
    except TimeoutError as exc:
        if scope and scope[0].expired() and outcome.interrupted:
            assoc.abort()
            raise AppError(
                f"no response to the C-CANCEL within {wait:g} s: association aborted",
                common.EXIT_INTERRUPTED,
            ) from None
        raise common.failure(exc, where) from None
    except AssociationAborted as exc:
        if outcome.interrupted:
            raise AppError("interrupted: association aborted", common.EXIT_INTERRUPTED) from None
        raise common.failure(exc, where) from None
    except DimseError as exc:
        raise common.failure(exc, where) from None
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
    return outcome


def _install(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> list[int]:
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # not here: Ctrl-C just ends
        return []
    return [signal.SIGINT]


def _log_cancel_failure(task: asyncio.Task[bool]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        LOGGER.error("could not send the C-CANCEL: %s", exc)
    elif not task.result():
        LOGGER.info("The request had already completed: no C-CANCEL sent")


def final_exit(outcome: Outcome) -> int:
    """0 for Success, 130 when we cancelled, 1 otherwise (Warning, Failure)."""
    if outcome.interrupted:
        return common.EXIT_INTERRUPTED
    final = outcome.final
    if final is None or final.category is not Category.SUCCESS:
        return common.EXIT_FAILED
    return common.EXIT_OK


def context_not_accepted(uid: str) -> AppError:
    return AppError(f"the peer did not accept {UID(uid).name} ({uid})", common.EXIT_FAILED)


def _start(
    assoc: Association, start_request: Callable[[], ResponseStream], uid: str
) -> ResponseStream:
    """Build the request; a model the peer refused, or an identifier that cannot be
    encoded, is a one-line error."""
    if not any(c.scu_role for c in assoc.negotiated.contexts_for(uid)):
        raise context_not_accepted(uid)
    try:
        return start_request()
    except UsageError as exc:
        raise _usage(f"cannot send the query: {exc}") from None


async def request(
    assoc: Association,
    start_request: Callable[[], ResponseStream],
    uid: UID,
    on_pending: Callable[[Response, Dataset | None], None],
    where: str,
    logger: logging.Logger,
) -> Outcome:
    """Send one request on ``assoc``, :func:`drive` it, and release (abort if anything
    unexpected happened, the association may be in any state then)."""
    try:
        stream = _start(assoc, start_request, uid)
        logger.info("Sending %s (%s)", stream.request.name, uid.name)
        outcome = await drive(assoc, stream, on_pending, where)
    except AppError:
        if assoc.is_alive:
            await assoc.release()
        raise
    except BaseException:
        assoc.abort()
        raise
    if assoc.is_alive:
        logger.info("Releasing association")
        await assoc.release()
    return outcome
