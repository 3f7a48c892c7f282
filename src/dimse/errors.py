"""Exception types: who is at fault decides what the caller can do.

* :class:`ProtocolError` - the *peer* sent something PS3.8/PS3.7 does not allow (a bad
  PDU, an unexpected PDU for the state, a malformed command set). The association is
  finished: the driver answers with the A-ABORT described by :attr:`ProtocolError.source`
  and :attr:`ProtocolError.reason` (PS3.8 event 19, action AA-8) and keeps serving others.
* :class:`UsageError` - *local* misuse of the API (an argument out of range, a primitive
  issued in a state that does not allow it). Nothing went on the wire; fix the caller.
* :class:`AssociationRejected`, :class:`AssociationAborted` - outcomes reported by the
  peer or the provider, carried as values (result/source/reason) the caller can act on.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AbortReason",
    "AbortSource",
    "AssociationAborted",
    "AssociationRejected",
    "DatasetDecodeError",
    "DimseError",
    "ProtocolError",
    "UsageError",
]


class AbortSource(IntEnum):
    """A-ABORT source field (PS3.8 Table 9-26)."""

    SERVICE_USER = 0
    RESERVED = 1
    SERVICE_PROVIDER = 2


class AbortReason(IntEnum):
    """A-ABORT reason/diag when the source is the service provider (PS3.8 Table 9-26)."""

    NOT_SPECIFIED = 0
    UNRECOGNIZED_PDU = 1
    UNEXPECTED_PDU = 2
    RESERVED = 3
    UNRECOGNIZED_PDU_PARAMETER = 4
    UNEXPECTED_PDU_PARAMETER = 5
    INVALID_PDU_PARAMETER_VALUE = 6


class DimseError(Exception):
    """Base of every exception dimse raises on purpose."""


class ProtocolError(DimseError):
    """The peer violated the protocol; the association must end with an A-ABORT.

    ``where`` names the place (PDU type and byte offset, item, command element) so a log
    line is enough to find the fault in a capture.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: AbortReason = AbortReason.INVALID_PDU_PARAMETER_VALUE,
        source: AbortSource = AbortSource.SERVICE_PROVIDER,
        where: str = "",
    ) -> None:
        self.message = message
        self.reason = reason
        self.source = source
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class UsageError(DimseError, ValueError):
    """Local misuse of the API; nothing was sent to the peer."""


class AssociationRejected(DimseError):
    """The peer (or its provider) answered A-ASSOCIATE-RJ; result/source/reason per PS3.8."""

    def __init__(self, result: int, source: int, reason: int, explanation: str = "") -> None:
        self.result = result
        self.source = source
        self.reason = reason
        detail = f" ({explanation})" if explanation else ""
        super().__init__(
            f"association rejected: result={result} source={source} reason={reason}{detail}"
        )


class AssociationAborted(DimseError):
    """The association ended with an A-ABORT or A-P-ABORT instead of a release."""

    def __init__(self, source: int | None, reason: int | None, explanation: str = "") -> None:
        self.source = source
        self.reason = reason
        detail = f": {explanation}" if explanation else ""
        super().__init__(f"association aborted (source={source}, reason={reason}){detail}")


class DatasetDecodeError(DimseError, ValueError):
    """A received dataset could not be decoded in its presentation context's syntax."""
