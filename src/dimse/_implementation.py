"""Who we are on the wire: the implementation class UID and version name (PS3.7 D.3.3.2).

Peers log these and some key behaviour on them, so they must be stable across runs.
The UID is a UUID-derived ``2.25`` UID (PS3.5 B.2), so no organisation's root is
borrowed. It was produced once with ``pydicom.uid.generate_uid(prefix=None,
entropy_srcs=["dimse implementation class"])``; with ``prefix=None`` pydicom ignores
``entropy_srcs`` and uses a random UUID, so the call cannot be repeated - the literal
below *is* the identity and must never be regenerated.
"""

from __future__ import annotations

__all__ = ["IMPLEMENTATION_CLASS_UID", "IMPLEMENTATION_VERSION_NAME"]

IMPLEMENTATION_CLASS_UID = "2.25.250494663147230262842533849324268556915"
"""Implementation Class UID sent in every A-ASSOCIATE-RQ/-AC we build."""

IMPLEMENTATION_VERSION_NAME = "DIMSE_0.1.0"
"""Implementation Version Name: 1 to 16 ISO 646 characters (PS3.7 Table D.3-3)."""
