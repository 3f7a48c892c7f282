"""PS3.8 Upper Layer PDUs: frozen attrs classes, :func:`decode` and ``encode()``.

Modules: :mod:`~dimse.pdu.pdus` (the seven PDUs, ``decode``, the P-DATA-TF fast path),
:mod:`~dimse.pdu.items` (presentation contexts, unknown items),
:mod:`~dimse.pdu.user_information` (user information and its sub-items).

Byte identity
    ``decode(x).encode() == bytes(x)`` for every ``x`` that ``decode`` accepts. Values
    that carry meaning are fields (UIDs keep their exact wire text, a trailing NUL pad
    included; AE titles drop only trailing spaces, which encoding puts back). Wire
    details without meaning live in hidden attrs fields that are excluded from ``==``,
    ``repr`` and ``__init__``:

    * reserved bytes - PS3.8 says send 0, do not test on receipt. A peer's non-zero
      reserved bytes are kept and sent back unchanged by ``encode()``; objects built by
      constructors (or :func:`attrs.evolve`) send zeros.
    * item order - PS3.8 9.3.1 wants items in increasing item-type order, which is what
      ``encode()`` produces. Items a peer sent in another order (or a rejected
      presentation context without its transfer syntax sub-item) keep the order seen.

Unknown items
    PS3.8 9.3.1: "Items of unrecognized types shall be ignored and skipped." An item of
    a type not defined at its level (A-ASSOCIATE variable field, presentation context,
    user information) decodes to :class:`UnknownItem`, kept in ``unknown_items`` (or in
    ``UserInformation.items``) so it re-encodes and shows in logs; negotiation ignores
    it. An unknown *PDU* type is ``ProtocolError(reason=UNRECOGNIZED_PDU)``.

Leniency
    Decoders check structure (lengths, mandatory items, odd context IDs, 0/1 flags) and
    raise :class:`~dimse.errors.ProtocolError`; they do not apply the constructors'
    local-use rules to values PS3.8 leaves to the application (AE title text, UID
    syntax, result codes): a decoded object can hold values its constructor would
    refuse, and :mod:`dimse.negotiation` decides what they mean.
"""

from dimse.pdu.items import (
    APPLICATION_CONTEXT_NAME,
    ItemType,
    PresentationContextAC,
    PresentationContextRQ,
    UnknownItem,
)
from dimse.pdu.pdus import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    PDUType,
    check_header,
    decode,
    encode_pdata_header,
)
from dimse.pdu.user_information import (
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    SubItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)

__all__ = [
    "APPLICATION_CONTEXT_NAME",
    "PDU",
    "PDV",
    "AAbort",
    "AAssociateAC",
    "AAssociateRJ",
    "AAssociateRQ",
    "AReleaseRP",
    "AReleaseRQ",
    "AsynchronousOperationsWindow",
    "ImplementationClassUID",
    "ImplementationVersionName",
    "ItemType",
    "MaximumLength",
    "PDUType",
    "PDataTF",
    "PresentationContextAC",
    "PresentationContextRQ",
    "RoleSelection",
    "SOPClassCommonExtendedNegotiation",
    "SOPClassExtendedNegotiation",
    "SubItem",
    "UnknownItem",
    "UserIdentityAC",
    "UserIdentityRQ",
    "UserInformation",
    "check_header",
    "decode",
    "encode_pdata_header",
]
