"""Hypothesis strategies for every dimse.pdu item and PDU (shared by the PDU tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from dimse.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)

G0 = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "\\")

uids = (
    st.lists(st.integers(0, 10**6), min_size=1, max_size=12)
    .map(lambda parts: ".".join(map(str, parts)))
    .filter(lambda u: len(u) <= 64)
)
# A UID exactly as some peers send it: sometimes with the even-length NUL pad.
wire_uids = st.tuples(uids, st.booleans()).map(lambda t: t[0] + "\0" if t[1] else t[0])

ae_titles = st.text(alphabet=G0, min_size=1, max_size=16).filter(lambda s: s.strip(" ") != "")
context_ids = st.integers(0, 127).map(lambda i: 2 * i + 1)
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
small_bytes = st.binary(max_size=40)


def unknown_items(excluded, max_size=2):
    """Unknown items sorted by type: encode() emits items in item-type order (PS3.8 9.3.1)."""
    item = st.builds(
        UnknownItem, item_type=u8.filter(lambda t: t not in excluded), data=small_bytes
    )
    return st.lists(item, max_size=max_size).map(
        lambda items: tuple(sorted(items, key=lambda i: i.item_type))
    )


pc_rqs = st.builds(
    PresentationContextRQ,
    context_id=context_ids,
    abstract_syntax=wire_uids,
    transfer_syntaxes=st.lists(wire_uids, min_size=1, max_size=4).map(tuple),
    unknown_items=unknown_items({0x30, 0x40}, max_size=1),
)


@st.composite
def pc_acs(draw):
    result = draw(st.integers(0, 4))
    syntax = draw(wire_uids if result == 0 else st.one_of(st.just(""), wire_uids))
    return PresentationContextAC(
        draw(context_ids), result, syntax, draw(unknown_items({0x40}, max_size=1))
    )


maximum_lengths = st.builds(MaximumLength, u32)
implementation_uids = st.builds(ImplementationClassUID, wire_uids)
version_names = st.builds(ImplementationVersionName, st.text(alphabet=G0, min_size=1, max_size=16))
async_windows = st.builds(AsynchronousOperationsWindow, u16, u16)
role_selections = st.builds(RoleSelection, wire_uids, st.booleans(), st.booleans())
extended_negotiations = st.builds(SOPClassExtendedNegotiation, wire_uids, small_bytes)
common_extended_negotiations = st.builds(
    SOPClassCommonExtendedNegotiation,
    wire_uids,
    wire_uids,
    st.lists(wire_uids, max_size=3).map(tuple),
    u8,
)
identity_rqs = st.builds(UserIdentityRQ, u8, st.booleans(), small_bytes, small_bytes)
identity_acs = st.builds(UserIdentityAC, small_bytes)
sub_items = st.one_of(
    maximum_lengths,
    implementation_uids,
    version_names,
    async_windows,
    role_selections,
    extended_negotiations,
    common_extended_negotiations,
    identity_rqs,
    identity_acs,
    st.builds(UnknownItem, u8.filter(lambda t: not 0x51 <= t <= 0x59), small_bytes),
)
user_informations = st.builds(UserInformation, st.lists(sub_items, max_size=8).map(tuple))


def _unique_ids(contexts):
    return len({c.context_id for c in contexts}) == len(contexts)


def _associate(cls, contexts, titles, pc_type):
    return st.builds(
        cls,
        called_ae_title=titles,
        calling_ae_title=titles,
        presentation_contexts=st.lists(contexts, min_size=1, max_size=4)
        .filter(_unique_ids)
        .map(tuple),
        user_information=user_informations,
        application_context=wire_uids,
        protocol_version=u16,
        unknown_items=unknown_items({0x10, pc_type, 0x50}),
    )


associate_rqs = _associate(AAssociateRQ, pc_rqs, ae_titles, 0x20)
associate_acs = _associate(
    AAssociateAC, pc_acs(), st.one_of(ae_titles, st.just("")), 0x21
)
associate_rjs = st.builds(AAssociateRJ, st.sampled_from([1, 2]), st.sampled_from([1, 2, 3]), u8)
pdvs = st.builds(PDV, context_ids, u8, st.binary(max_size=64))
pdata_tfs = st.builds(PDataTF, st.lists(pdvs, min_size=1, max_size=4).map(tuple))
aborts = st.builds(AAbort, st.sampled_from([0, 1, 2]), u8)
release_rqs = st.just(AReleaseRQ())
release_rps = st.just(AReleaseRP())

pdus = st.one_of(
    associate_rqs,
    associate_acs,
    associate_rjs,
    pdata_tfs,
    release_rqs,
    release_rps,
    aborts,
)
