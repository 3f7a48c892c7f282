"""The stored form of an instance: the DICOM JSON model (PS3.18 F.2) of its top level.

The index keeps each instance's attributes (no pixel data, no bulk data) as the JSON
model, so any key can be matched and returned without reopening the file, and the
database stays readable by other tools. These helpers convert both ways, fast enough
for a thousand C-FIND responses: building a pydicom Dataset goes through ``add_new``
with ready values instead of ``Dataset.from_json``.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from typing import Any

from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

__all__ = [
    "JsonDataset",
    "JsonElement",
    "decode",
    "element_values",
    "encode",
    "from_dataset",
    "has_non_ascii",
    "pn_text",
    "tag_key",
    "to_dataset",
]

JsonElement = dict[str, Any]
JsonDataset = dict[str, JsonElement]

# Bigger binary values are left out of the index (they are never useful as keys).
BULK_THRESHOLD = 1024
# A top level bigger than this is trimmed of its largest elements (RT contour data,
# huge private sequences) so one instance cannot bloat every query's I/O.
MAX_STORED_JSON = 256 * 1024
_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_BINARY = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def tag_key(tag: int) -> str:
    """The DICOM JSON key of a tag: eight upper-case hex digits."""
    return f"{tag:08X}"


def pn_text(value: Any) -> str:
    """A JSON PN value (``{"Alphabetic": ...}``) as its DICOM string ``A=I=P``."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return ""
    groups = [str(value.get(name, "")) for name in _PN_GROUPS]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def element_values(element: JsonElement | None) -> list[Any]:
    """The values of a JSON element, PN as strings; [] when absent or zero length."""
    if not element:
        return []
    values = element.get("Value")
    if not values:
        if "InlineBinary" in element:
            return [element["InlineBinary"]]
        return []
    if element.get("vr") == "PN":
        return [pn_text(v) for v in values]
    return list(values)


def _bulk(_element: object) -> str:
    return ""


def from_dataset(ds: Dataset) -> JsonDataset:
    """The JSON model of ``ds``'s top level as the index keeps it: standard elements
    only (private ones are never matched, C.4.1.1.3.2 note 4, and are two thirds of a
    typical CT header), no binary values (nothing to match on, and they can be large),
    no pixel data. Elements that pydicom cannot convert (a malformed value) are left
    out rather than failing the store."""
    out: JsonDataset = {}
    for tag in list(ds.keys()):  # tags only: elements are converted on demand
        if tag.is_private or tag.group in (0x0002, 0x7FE0) or tag.element == 0x0000:
            continue  # decided before pydicom converts the raw element: most of the cost
        if ds.get_item(tag).VR in _BINARY:
            continue
        try:
            element = ds[tag]
            if element.VR in _BINARY:
                continue
            data = element.to_json_dict(_bulk, BULK_THRESHOLD)
        except Exception:  # one bad value must not lose the instance
            continue
        if "BulkDataURI" in data:
            continue
        if element.VR in ("DS", "IS") and data.get("Value"):
            # Keep decimal strings as written: a float would come back as a longer,
            # possibly invalid (over 16 bytes) DS in the C-FIND response.
            value = element.value
            values = [value] if isinstance(value, str | int | float) else list(value)
            data["Value"] = [str(v) for v in values]
        out[tag_key(element.tag)] = data
    return out


def _dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def encode(data: JsonDataset) -> bytes:
    """Compact, compressed JSON for the index (a CT header: ~15 kB of JSON, ~2 kB).

    A top level larger than MAX_STORED_JSON loses its largest elements first."""
    text = _dumps(data)
    if len(text) > MAX_STORED_JSON:
        sizes = {key: len(_dumps(value)) for key, value in data.items()}
        total = sum(sizes.values())
        data = dict(data)
        for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
            if total <= MAX_STORED_JSON:
                break
            del data[key]
            total -= sizes[key]
        text = _dumps(data)
    return zlib.compress(text.encode("utf-8"), 1)


def decode(blob: bytes) -> JsonDataset:
    result: JsonDataset = json.loads(zlib.decompress(blob))
    return result


def to_dataset(data: Mapping[str, JsonElement]) -> Dataset:
    """A pydicom Dataset from JSON elements (the C-FIND response identifier).

    Values come from instances pydicom already read, so they are not validated again
    (that would only repeat warnings); elements go straight into the Dataset's
    mapping, which halves the cost of a thousand-match response."""
    ds = Dataset()
    elements = ds._dict
    for key, element in data.items():
        vr = element.get("vr", "UN")
        tag = BaseTag(int(key, 16))
        elements[tag] = DataElement(
            tag, vr, _pydicom_value(vr, element), validation_mode=config.IGNORE
        )
    return ds


def has_non_ascii(data: Mapping[str, JsonElement]) -> bool:
    """Whether a response needs a Specific Character Set (we answer in UTF-8)."""
    for element in data.values():
        values = element.get("Value")
        if not values:
            continue
        for value in values:
            if isinstance(value, str):
                if not value.isascii():
                    return True
            elif isinstance(value, dict):
                if element.get("vr") == "SQ":
                    if has_non_ascii(value):
                        return True
                elif not all(str(v).isascii() for v in value.values()):
                    return True
    return False


def _pydicom_value(vr: str, element: JsonElement) -> Any:
    if vr == "SQ":
        return [to_dataset(item) for item in element.get("Value", ()) if isinstance(item, dict)]
    values = element.get("Value")
    if not values:
        if "InlineBinary" in element:
            return base64.b64decode(element["InlineBinary"])
        return None
    if vr == "PN":
        values = [pn_text(v) for v in values]
    elif vr == "AT":
        values = [int(str(v), 16) for v in values]
    return values[0] if len(values) == 1 else list(values)
