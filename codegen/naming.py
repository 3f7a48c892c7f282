"""How spec things get their Python names. One rule each, documented here.

* service class id: the name without "Service Class", lowercased, words joined by "-"
  ("Non-Patient Object Storage Service Class" -> "non-patient-object-storage").
* class name: the name's words in CamelCase with "ServiceClass" kept
  ("Protocol Approval Query/Retrieve Service Class" ->
  "ProtocolApprovalQueryRetrieveServiceClass").
* status enum: the stem (the name without "Service Class", and without a trailing
  "Query/Retrieve" when other words remain) + the DIMSE operation when the class has
  several + "Status" ("StorageStatus", "ProtocolApprovalFindStatus").
* status member: the description without a leading "Refused:"/"Error:"/"Warning:",
  without parenthesised asides, its first eight words upper-cased and joined by "_"
  ("Out of resources" -> "OUT_OF_RESOURCES"). Clashes are settled in
  ``spec/names.toml``, never by order of appearance, so names are stable.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9]+")
_MAX_WORDS = 8


def strip_service_class(name: str) -> str:
    return re.sub(r"\s*service class\s*$", "", name.strip(), flags=re.I)


def service_class_id(name: str) -> str:
    words = _WORD.findall(strip_service_class(name).replace("/", " "))
    return "-".join(w.lower() for w in words) or "unnamed"


def _camel(words: list[str]) -> str:
    return "".join(w if w.isupper() and len(w) > 1 else w[:1].upper() + w[1:] for w in words)


def service_class_name(name: str) -> str:
    stem = _camel(_WORD.findall(strip_service_class(name)))
    return f"{stem}ServiceClass"


def status_stem(name: str) -> str:
    base = strip_service_class(name)
    trimmed = re.sub(r"\s*query/retrieve\s*$", "", base, flags=re.I)
    words = _WORD.findall(trimmed or base) or _WORD.findall(base)
    return _camel(words)


def status_enum_name(service_name: str, dimse: str, several: bool) -> str:
    stem = status_stem(service_name)
    if several:
        op = dimse.split("-", 1)[1].replace("-", " ").title().replace(" ", "")
        return f"{stem}{op}Status"
    return f"{stem}Status"


_PREFIX = re.compile(r"^(refused|error|warning|failure|failed)\s*:\s*", re.I)


def status_member_name(description: str) -> str:
    text = _PREFIX.sub("", re.sub(r"\([^)]*\)", " ", description).strip())
    text = re.sub(r"(?i)\bdata set\b", "dataset", text.replace("’", "'"))
    text = re.sub(r"(?i)n't\b", " not", text)
    words = _WORD.findall(text)[:_MAX_WORDS]
    name = "_".join(w.upper() for w in words) or "UNNAMED"
    return f"CODE_{name}" if name[0].isdigit() else name


def camel_to_words(name: str) -> str:
    """``StorageServiceClass`` -> ``Storage Service Class``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
