"""Fixture tables -> spec fragments, and the rendered reference pages round-trip."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from codegen.extract import read_page
from codegen.normalise import normalise
from codegen.specjson import service_to_dict

ROOT = Path(__file__).resolve().parents[1]

FIXTURE = textwrap.dedent(
    """\
    Widget Storage Service Class
    ============================

    Supported SOP Classes
    ---------------------

    +---------------------------+---------------------------------+--------+
    | UID                       | SOP Class                       | Annex  |
    +===========================+=================================+========+
    | 1.2.840.10008.5.1.4.1.1.2 | CTImageStorage                  | A.3    |
    +---------------------------+---------------------------------+--------+
    | 1.2.840.10008.5.1.4.1.1.4 | MRImageStorage                  | A.4    |
    +---------------------------+---------------------------------+--------+

    DIMSE Services
    --------------

    +-----------------+---------------------+
    | DIMSE Service   | Usage SCU/SCP       |
    +=================+=====================+
    | C-STORE         | Mandatory/Optional  |
    +-----------------+---------------------+

    Statuses
    --------

    C-STORE Statuses
    ~~~~~~~~~~~~~~~~

    +------------------+----------+----------------------+
    | Code (hex)       | Category | Description          |
    +==================+==========+======================+
    | 0x0000           | Success  | Success              |
    +------------------+----------+----------------------+

    Widget Service Statuses
    ~~~~~~~~~~~~~~~~~~~~~~~

    +------------------+----------+----------------------+
    | Code (hex)       | Category | Description          |
    +==================+==========+======================+
    | 0xA700 to 0xA7FF | Failure  | Out of resources     |
    +------------------+----------+----------------------+
    """
)


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        # Provenance differs by page; member names come from spec/names.toml, not pages.
        skip = ("source", "sources", "member")
        return {k: _strip(v) for k, v in data.items() if k not in skip}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


def test_fixture_table_gives_spec_fragment() -> None:
    service, problems = normalise(read_page("fixture.rst", FIXTURE))
    assert problems == []
    data = service_to_dict(service, {})
    assert data["id"] == "widget-storage"
    assert data["class_name"] == "WidgetStorageServiceClass"
    assert [(s["uid"], s["keyword"], s["annex"]) for s in data["sop_classes"]] == [
        ("1.2.840.10008.5.1.4.1.1.2", "CTImageStorage", "A.3"),
        ("1.2.840.10008.5.1.4.1.1.4", "MRImageStorage", "A.4"),
    ]
    assert data["dimse"][0] | {"source": ""} == {
        "service": "C-STORE", "model": None, "scu": "Mandatory", "scp": "Optional", "source": "",
    }
    assert [(s["scope"], s["first"], s["last"], s["category"], s["member"], s["source"])
            for s in data["statuses"]] == [
        ("general", "0x0000", "0x0000", "Success", "SUCCESS", "fixture.rst:33"),
        ("service", "0xA700", "0xA7FF", "Failure", "OUT_OF_RESOURCES", "fixture.rst:42"),
    ]


SPEC = json.loads((ROOT / "spec/dicom-services.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("service", SPEC["service_classes"], ids=lambda s: s["id"])
def test_reference_page_round_trips(service: dict[str, Any]) -> None:
    path = ROOT / "docs/service_classes" / f"{service['id']}.rst"
    parsed, problems = normalise(read_page(str(path), path.read_text(encoding="utf-8")))
    assert [str(p) for p in problems] == []
    again = _strip(service_to_dict(parsed, {}))
    want = _strip(service)
    for sop in want["sop_classes"]:
        sop["source_names"] = [sop["keyword"]]
        sop["aliases"] = []
    for status in want["statuses"]:
        status["source_descriptions"] = []
    for key in ("sop_classes", "statuses", "status_enums", "id", "name", "uid", "class_name"):
        assert again[key] == want[key], key
    assert sorted(map(str, again["dimse"])) == sorted(map(str, want["dimse"]))
