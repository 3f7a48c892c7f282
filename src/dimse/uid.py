"""UIDs as strings that know their names, without importing pydicom to define them.

The generated registries define hundreds of UID constants, and every app imports
them. Were they ``pydicom.uid.UID`` objects, each process would pay pydicom's import
(about a third of a CLI's start-up) before it could send one C-ECHO. :class:`UID` is a
``str`` (pydicom and pynetdicom take it wherever they take a UID) whose name and
keyword come from the spec's registry, and whose other pydicom properties are
computed by pydicom on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pydicom.uid

__all__ = [
    "UID",
    "UNCOMPRESSED_TRANSFER_SYNTAXES",
    "DeflatedExplicitVRLittleEndian",
    "ExplicitVRBigEndian",
    "ExplicitVRLittleEndian",
    "ImplicitVRLittleEndian",
]


class _PydicomFlag:
    """A boolean property of ``pydicom.uid.UID``, asked of pydicom when first read."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, uid: UID, owner: type | None = None) -> bool:
        return bool(getattr(uid.as_pydicom(), self._name))


class UID(str):
    """A UID; ``name`` and ``keyword`` from the spec's registry, else from pydicom's PS3.6."""

    __slots__ = ()

    def as_pydicom(self) -> pydicom.uid.UID:
        """The same UID as a ``pydicom.uid.UID`` (imports pydicom)."""
        from pydicom.uid import UID as PydicomUID

        return PydicomUID(self)

    @property
    def name(self) -> str:
        """The registered name ("CT Image Storage"), or the UID itself if unknown."""
        from dimse.sop_classes import REGISTRY

        known = REGISTRY.get(self)
        return known.name if known is not None else str(self.as_pydicom().name)

    @property
    def keyword(self) -> str:
        """The PS3.6 keyword ("CTImageStorage"), or "" if unknown."""
        from dimse.sop_classes import REGISTRY

        known = REGISTRY.get(self)
        return known.keyword if known is not None else str(self.as_pydicom().keyword)

    # pydicom's flags, computed by pydicom (from its PS3.5/PS3.6 tables) on first use
    is_transfer_syntax = _PydicomFlag()
    is_little_endian = _PydicomFlag()
    is_implicit_VR = _PydicomFlag()
    is_deflated = _PydicomFlag()
    is_encapsulated = _PydicomFlag()
    is_compressed = _PydicomFlag()
    is_retired = _PydicomFlag()

    @property
    def is_valid(self) -> bool:
        """PS3.5 9.1 syntax: digits and dots, no empty or zero-led component, <= 64 chars."""
        from dimse.part10 import is_valid_uid

        return is_valid_uid(self)

    @property
    def type(self) -> str:
        """PS3.6's UID type ("SOP Class", "Transfer Syntax", ...), "" if unknown."""
        return str(self.as_pydicom().type)


# The four uncompressed transfer syntaxes of PS3.5 (A.1-A.5): every DICOM application
# handles them, so apps offer them by default and convert into them.
ImplicitVRLittleEndian = UID("1.2.840.10008.1.2")
ExplicitVRLittleEndian = UID("1.2.840.10008.1.2.1")
DeflatedExplicitVRLittleEndian = UID("1.2.840.10008.1.2.1.99")
ExplicitVRBigEndian = UID("1.2.840.10008.1.2.2")

UNCOMPRESSED_TRANSFER_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
)
