"""The spec: frozen attrs classes that are the contract between the pipeline stages.

``extract`` produces raw tables, ``normalise`` turns one page into a ``ServiceClass``
(a page spec), ``build`` merges pages, applies errata and validates into a ``Spec``;
``render`` and the JSON file only ever see these classes.
"""

from __future__ import annotations

from typing import Any

import attrs

CATEGORIES = ("Success", "Warning", "Failure", "Cancel", "Pending")
SCOPES = ("general", "service", "implementation")
USAGES = ("Mandatory", "Optional", "Conditional", "User", "Not Applicable")
FORMS = ("rst", "html", "html-text")
DIMSE_SERVICES = (
    "C-ECHO", "C-STORE", "C-FIND", "C-GET", "C-MOVE", "C-CANCEL",
    "N-EVENT-REPORT", "N-GET", "N-SET", "N-ACTION", "N-CREATE", "N-DELETE",
)


def _one_of(options: tuple[str, ...]) -> Any:
    return attrs.validators.in_(options)


def _code(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{attribute.name} must be a 16-bit status code, got {value:#x}")


def hex4(value: int) -> str:
    """Status codes are written 0xA700 everywhere: in the JSON, the code and the docs."""
    return f"0x{value:04X}"


@attrs.frozen
class SourceFile:
    path: str
    sha256: str
    form: str = attrs.field(validator=_one_of(FORMS))
    precedence: int = 0
    describes: str = ""


@attrs.frozen
class SOPClass:
    uid: str
    keyword: str
    name: str  # PS3.6 name
    source_names: tuple[str, ...]
    annex: str | None
    retired: bool
    source: str
    aliases: tuple[str, ...] = ()

    def uid_key(self) -> tuple[int, ...]:
        return uid_key(self.uid)


def uid_key(uid: str) -> tuple[int, ...]:
    """Sort UIDs by their integer components, as the registry in PS3.6 does."""
    return tuple(int(part) for part in uid.split(".") if part.isdigit())


@attrs.frozen
class DimseUsage:
    service: str = attrs.field(validator=_one_of(DIMSE_SERVICES))
    model: str | None
    scu: str = attrs.field(validator=_one_of(USAGES))
    scp: str = attrs.field(validator=_one_of(USAGES))
    source: str


@attrs.frozen
class StatusRange:
    dimse: str = attrs.field(validator=_one_of(DIMSE_SERVICES))
    scope: str = attrs.field(validator=_one_of(SCOPES))
    first: int = attrs.field(validator=_code)
    last: int = attrs.field(validator=_code)
    category: str = attrs.field(validator=_one_of(CATEGORIES))
    description: str
    source: str
    source_descriptions: tuple[str, ...] = ()

    @last.validator
    def _ordered(self, _: attrs.Attribute[int], value: int) -> None:
        if value < self.first:
            raise ValueError(f"range {hex4(self.first)}-{hex4(value)} is reversed")

    @property
    def width(self) -> int:
        return self.last - self.first

    def contains(self, code: int) -> bool:
        return self.first <= code <= self.last


@attrs.frozen
class MessageParameter:
    dimse: str = attrs.field(validator=_one_of(DIMSE_SERVICES))
    message: str = attrs.field(validator=_one_of(("request", "response")))
    name: str
    usage: str
    source: str


@attrs.frozen
class MetaSOPClass:
    name: str
    members: tuple[tuple[str, str, str], ...]  # (SOP class name, SCU usage, SCP usage)
    source: str


@attrs.frozen
class ServiceClass:
    id: str
    name: str
    uid: str | None
    sop_classes: tuple[SOPClass, ...]
    dimse: tuple[DimseUsage, ...]
    statuses: tuple[StatusRange, ...]
    parameters: tuple[MessageParameter, ...] = ()
    meta_sop_classes: tuple[MetaSOPClass, ...] = ()
    api: tuple[str, ...] = ()  # methods and attributes an API page documents
    sources: tuple[str, ...] = ()

    @property
    def dimse_services(self) -> tuple[str, ...]:
        seen = {d.service for d in self.dimse} | {s.dimse for s in self.statuses}
        return tuple(s for s in DIMSE_SERVICES if s in seen)


@attrs.frozen
class Erratum:
    """A reviewed correction of one cell of one upstream table row."""

    id: str
    source: str
    key: str  # the row's first cell as the source writes it (UID or code)
    field: str = attrs.field(
        validator=_one_of(("uid", "name", "annex", "code", "category", "description", "row"))
    )
    was: str
    is_: str
    why: str
    citation: str
    alias: bool = False  # field "name": keep the source's name as an accepted alias
    section: str = ""  # restrict to tables under this heading (when keys repeat)


@attrs.frozen
class Spec:
    sources: tuple[SourceFile, ...]
    service_classes: tuple[ServiceClass, ...]
    errata: tuple[Erratum, ...]
    format: str = "dimse-spec/1"
