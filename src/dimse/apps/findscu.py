"""``dimse findscu``: send a C-FIND query and print the matches as an aligned table.

One row per match, one column per key of the query (sequence keys as their paths,
``ReferencedStudySequence[0].ReferencedSOPInstanceUID``), so the output answers the
question that was asked; the final status follows with its meaning from the generated
tables. ``-w`` also writes each match as ``rsp000001.dcm``... as pynetdicom's does.
Ctrl-C sends a C-CANCEL and still prints what had arrived.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from dimse._implementation import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dimse.ae import AE
from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.apps import _qr_scu as qr
from dimse.apps._common import AppError
from dimse.messages import Response
from dimse.negotiation import DEFAULT_TRANSFER_SYNTAXES, RequestedContext

__all__ = ["columns_of", "main", "render_table"]

APP = "findscu"
LOGGER = logging.getLogger("dimse.apps.findscu")
EXIT_CODES = (0, 1, 2, 3, 4, 5, 130)
MAX_CELL = 64
_NOT_COLUMNS = frozenset({0x00080052, 0x00080005})  # Query/Retrieve Level, character set


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = options.make_parser(
        prog,
        "The findscu application implements a Service Class User (SCU) for the "
        "Query/Retrieve (QR) and Basic Worklist Management (BWM) Service Classes. It "
        "sends a C-FIND query built from -k keys (and/or a DICOM file) to a Service "
        "Class Provider and prints one row per match, one column per query key, then "
        "the final status with its meaning.",
        options.exit_codes_epilog(
            EXIT_CODES, "the final status is not Success, or the model was not accepted"
        ),
    )
    params = parser.add_argument_group("Parameters")
    params.add_argument("addr", help="TCP/IP address or hostname of DICOM peer")
    params.add_argument("port", type=options.port_number, help="TCP/IP port number of peer")
    options.add_general_options(parser, APP)
    options.add_network_options(parser, server=False, default_aet="FINDSCU")
    qr.add_model_options(parser, "C-FIND")
    qr.add_query_options(parser)
    output = parser.add_argument_group("Output Options")
    output.add_argument(
        "-w",
        "--write",
        action="store_true",
        help="write the responses to file as rsp000001.dcm, rsp000002.dcm, ... "
        "(in the current directory)",
    )
    qr.add_extended_negotiation_options(parser, "C-FIND")
    options.add_tls_options(parser, server=False)
    return parser


# -- the table -----------------------------------------------------------------------------
def columns_of(identifier: Dataset, prefix: str = "") -> Iterator[tuple[str, list[int]]]:
    """(heading, tag path) of every leaf key of the query, in the query's order."""
    for element in identifier:
        tag = int(element.tag)
        if not prefix and tag in _NOT_COLUMNS:
            continue
        name = element.keyword or str(element.tag)
        items = element.value if element.VR == "SQ" else None
        if items:
            for index, item in enumerate(items):
                for heading, path in columns_of(item, f"{prefix}{name}[{index}]."):
                    yield heading, [tag, index, *path]
        else:
            yield prefix + name, [tag]


def ordered(columns: list[tuple[str, list[int]]], keys: list[str]) -> list[tuple[str, list[int]]]:
    """Columns in the order of the -k keys that made them (a -f file's keys after)."""
    paths = [qr.key_path(key) for key in keys]

    def rank(column: tuple[str, list[int]]) -> int:
        found = (n for n, p in enumerate(paths) if column[1][: len(p)] == p[: len(column[1])])
        return next(found, len(paths))

    return sorted(columns, key=rank)


def cell(ds: Dataset, path: list[int]) -> str:
    """The text of the element at ``path`` in a response ("" where it is absent)."""
    element: DataElement | None = ds.get(path[0])
    for index, tag in zip(path[1::2], path[2::2], strict=True):
        if element is None or element.VR != "SQ" or not element.value:
            return ""
        items = element.value
        if index >= len(items):
            return ""
        element = items[index].get(tag)
    if element is None or element.is_empty:
        return ""
    value = element.value
    if element.VR == "SQ":
        text = f"<{len(value)} item{'s' if len(value) != 1 else ''}>"
    elif isinstance(value, bytes | bytearray):
        text = value.hex()
    elif isinstance(value, MultiValue | list | tuple):
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    text = " ".join(text.split())  # one line per row, whatever the value holds
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def render_table(headings: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headings)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headings), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def write_response(identifier: Dataset, number: int, sop_class: str) -> Path:
    """``rspNNNNNN.dcm`` in the current directory, a PS3.10 file (Explicit VR LE)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    identifier.file_meta = meta
    path = Path(f"rsp{number:06d}.dcm")
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    identifier.save_as(temp, enforce_file_format=True)
    os.replace(temp, path)
    return path


# -- the app -------------------------------------------------------------------------------
async def find(args: argparse.Namespace, level: int) -> int:
    identifier = qr.build_identifier(args)
    uid = qr.model_uid(args, "C-FIND")
    if args.model not in ("PA", "W", "U") and "QueryRetrieveLevel" not in identifier:
        LOGGER.warning("no QueryRetrieveLevel key: the peer will probably refuse the query")
    ae = AE(common.check_ae_title(args.ae_title, "-aet"))
    common.check_ae_title(args.called_aet, "-aec")
    common.configure_ae(ae, args)
    tls = common.tls_context(args, server=False)
    contexts = [RequestedContext(uid, DEFAULT_TRANSFER_SYNTAXES)]
    where = common.format_address(args.addr, args.port)
    LOGGER.info("Requesting association with %s", where)
    handlers = common.association_handlers(LOGGER, level)
    ext_neg = qr.extended_negotiation(args, "C-FIND", uid)
    assoc = await common.connect(ae, args, handlers, tls, contexts, ext_neg)
    headings_paths = ordered(list(columns_of(identifier)), args.keyword)
    rows: list[list[str]] = []

    def on_pending(rsp: Response, match: Dataset | None) -> None:
        LOGGER.info("Find response %d: %s", len(rows) + 1, qr.status_text(rsp, uid))
        if match is None:
            LOGGER.warning("a pending response without an identifier")
            return
        LOGGER.debug("Identifier:\n%s", match)
        rows.append([cell(match, path) for _, path in headings_paths])
        if args.write:
            try:
                LOGGER.info("Wrote %s", write_response(match, len(rows), uid))
            except (OSError, ValueError) as exc:
                LOGGER.error("cannot write response %d: %s", len(rows), exc)

    try:
        outcome = await qr.request(
            assoc, lambda: assoc.send_c_find(identifier, uid), uid, on_pending, where, LOGGER
        )
    finally:
        if rows:  # even when interrupted: what arrived is shown
            print("\n".join(render_table([h for h, _ in headings_paths], rows)), flush=True)
    return report(args, outcome, uid, len(rows))


def report(args: argparse.Namespace, outcome: qr.Outcome, uid: str, matches: int) -> int:
    final = outcome.final
    code = qr.final_exit(outcome)
    status = qr.status_text(final, uid) if final is not None else "no final response"
    if not args.quiet:
        print(f"{matches} match{'es' if matches != 1 else ''}; final status {status}", flush=True)
    if code == common.EXIT_FAILED:
        raise AppError(f"C-FIND failed: {status}", code)
    return code


def main(argv: list[str] | None = None, prog: str = "dimse findscu") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    qr.check_query_given(parser, args)
    level = common.setup_logging(args)
    return common.run_async(APP, args, lambda: find(args, level))
