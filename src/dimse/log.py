"""Debug logging: a one-call handler setup and readable PDU and DIMSE message dumps.

``debug_logger()`` is the quick way to see what the library does (as in pynetdicom).
``dump_handlers()`` returns notification bindings that log every association PDU in
full (``PDU.describe()``), one line per P-DATA-TF, and every DIMSE command set with its
elements named; bind them on ``AE.serve``/``AE.associate_async`` when debugging a
peer. They cost nothing unless bound: the association only reports PDUs when someone
listens.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from dimse import command_set as cs
from dimse.evt import (
    EVT_DIMSE_RECV,
    EVT_DIMSE_SENT,
    EVT_PDU_RECV,
    EVT_PDU_SENT,
    Event,
    HandlerBinding,
)
from dimse.pdu import PDU, PDataTF
from dimse.uid import UID

__all__ = [
    "LOG_FORMAT",
    "debug_logger",
    "describe_message",
    "describe_pdu",
    "dump_handlers",
]

LOG_FORMAT = "%(levelname).1s: %(message)s"
DUMP_LOGGER = logging.getLogger("dimse.dump")
_WIDTH = 76
_OURS = "_dimse_debug_handler"


def debug_logger(stream: TextIO | None = None) -> logging.Handler:
    """Log everything of the "dimse" logger at DEBUG to ``stream`` (stderr); idempotent."""
    logger = logging.getLogger("dimse")
    for old in [h for h in logger.handlers if getattr(h, _OURS, False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    setattr(handler, _OURS, True)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return handler


def _banner(title: str) -> str:
    return f" {title} ".center(_WIDTH, "=")


def describe_pdu(pdu: PDU, direction: str) -> list[str]:
    """Lines for one PDU: association PDUs in full, a P-DATA-TF as one summary line
    (its command sets are dumped as DIMSE messages; data sets are not worth a dump)."""
    if isinstance(pdu, PDataTF):
        parts = []
        for pdv in pdu.pdvs:
            kind = "command" if pdv.is_command else "data"
            last = ", last" if pdv.is_last else ""
            parts.append(f"context {pdv.context_id} {kind}{last} {len(pdv.data)} bytes")
        return [f"{direction} P-DATA-TF: " + "; ".join(parts)]
    name = type(pdu).__name__
    label = getattr(pdu, "pdu_type", None)
    title = getattr(label, "name", name).replace("_", "-")
    return [
        _banner(f"{direction.upper()} {title} PDU"),
        *pdu.describe().splitlines(),
        _banner(f"END {title} PDU"),
    ]


def _value_text(element: int, value: Any) -> str:
    if isinstance(value, str):
        text = value.rstrip("\x00 ")
        if element in _UID_ELEMENTS:
            name = UID(text).name
            return f"{text} ({name})" if name and name != text else text
        return text
    if isinstance(value, bytes):
        return f"{len(value)} raw bytes"
    if isinstance(value, tuple):
        return ", ".join(f"({v >> 16:04X},{v & 0xFFFF:04X})" for v in value)
    if element == cs.STATUS:
        return f"0x{int(value):04X}"
    if hasattr(value, "name"):
        return f"{int(value)} ({value.name})"
    return str(value)


_UID_ELEMENTS = frozenset(
    {
        cs.AFFECTED_SOP_CLASS_UID,
        cs.REQUESTED_SOP_CLASS_UID,
        cs.AFFECTED_SOP_INSTANCE_UID,
        cs.REQUESTED_SOP_INSTANCE_UID,
    }
)


def describe_message(message: Any, direction: str) -> list[str]:
    """Lines for one DIMSE message: type, then each command element by keyword."""
    lines = [_banner(f"{direction.upper()} DIMSE MESSAGE"), f"Message type: {message.name}"]
    for element, value in message.command_set().items():
        if element in (cs.COMMAND_FIELD, cs.COMMAND_DATA_SET_TYPE):
            continue
        spec = cs.ELEMENTS.get(element)
        keyword = spec.keyword if spec is not None else f"(0000,{element:04X})"
        lines.append(f"{keyword:<28}: {_value_text(element, value)}")
    lines.append(f"{'Data set':<28}: {'present' if message.has_dataset else 'none'}")
    entry = message.status_entry() if hasattr(message, "status_entry") else None
    if entry is not None:
        lines.append(f"{'Status meaning':<28}: {entry.category.value}: {entry.description}")
    lines.append(_banner("END DIMSE MESSAGE"))
    return lines


def _log(lines: list[str]) -> None:
    for line in lines:
        DUMP_LOGGER.debug("%s", line)


def _pdu_sent(event: Event) -> None:
    if isinstance(event.pdu, PDU):
        _log(describe_pdu(event.pdu, "outgoing"))


def _pdu_recv(event: Event) -> None:
    if isinstance(event.pdu, PDU):
        _log(describe_pdu(event.pdu, "incoming"))


def _dimse_sent(event: Event) -> None:
    if event.message is not None:
        _log(describe_message(event.message, "outgoing"))


def _dimse_recv(event: Event) -> None:
    if event.message is not None:
        _log(describe_message(event.message, "incoming"))


def dump_handlers() -> list[HandlerBinding]:
    """Notification bindings that log PDUs and DIMSE messages to "dimse.dump" at DEBUG."""
    return [
        (EVT_PDU_SENT, _pdu_sent),
        (EVT_PDU_RECV, _pdu_recv),
        (EVT_DIMSE_SENT, _dimse_sent),
        (EVT_DIMSE_RECV, _dimse_recv),
    ]
