"""The spec as JSON: deterministic, sorted, diffable (``spec/dicom-services.json``).

Sorting is part of the format: SOP classes by UID components, statuses by DIMSE
service, code and width, DIMSE usages by service and model. The same functions print
``python -m codegen parse``'s output, so a page spec and the merged spec look alike.
"""

from __future__ import annotations

import json
from typing import Any

from codegen import naming, rules
from codegen.model import (
    DIMSE_SERVICES,
    Erratum,
    ServiceClass,
    SourceFile,
    Spec,
    StatusRange,
    hex4,
    uid_key,
)


def status_sort_key(s: StatusRange) -> tuple[int, int, int, str]:
    return (DIMSE_SERVICES.index(s.dimse), s.first, s.last, s.scope)


def status_enum_names(service: ServiceClass) -> dict[str, str]:
    """DIMSE service -> name of its status enum in the generated ``statuses`` module."""
    services = sorted({s.dimse for s in service.statuses}, key=DIMSE_SERVICES.index)
    return {
        d: naming.status_enum_name(service.name, d, several=len(services) > 1) for d in services
    }


def service_to_dict(service: ServiceClass, members: dict[tuple[str, int], str]) -> dict[str, Any]:
    enums = status_enum_names(service)
    return {
        "id": service.id,
        "name": service.name,
        "uid": service.uid,
        "class_name": naming.service_class_name(service.name),
        "status_enums": enums,
        "sources": list(service.sources),
        "sop_classes": [
            {
                "uid": s.uid,
                "keyword": s.keyword,
                "name": s.name,
                "source_names": list(s.source_names),
                "aliases": list(s.aliases),
                "annex": s.annex,
                "retired": s.retired,
                "source": s.source,
            }
            for s in sorted(service.sop_classes, key=lambda s: uid_key(s.uid))
        ],
        "dimse": [
            {"service": d.service, "model": d.model, "scu": d.scu, "scp": d.scp, "source": d.source}
            for d in service.dimse
        ],
        "statuses": [
            {
                "dimse": s.dimse,
                "scope": s.scope,
                "first": hex4(s.first),
                "last": hex4(s.last),
                "category": s.category,
                "description": s.description,
                "member": members.get((s.dimse, s.first), naming.status_member_name(s.description)),
                "source": s.source,
                "source_descriptions": list(s.source_descriptions),
            }
            for s in sorted(service.statuses, key=status_sort_key)
        ],
        "parameters": [
            {"dimse": p.dimse, "message": p.message, "name": p.name, "usage": p.usage,
             "source": p.source}
            for p in service.parameters
        ],
        "meta_sop_classes": [
            {"name": m.name, "source": m.source,
             "members": [{"name": n, "scu": u, "scp": p} for n, u, p in m.members]}
            for m in service.meta_sop_classes
        ],
        "api": list(service.api),
    }


def source_to_dict(source: SourceFile) -> dict[str, Any]:
    return {
        "path": source.path,
        "sha256": source.sha256,
        "form": source.form,
        "precedence": source.precedence,
        "describes": source.describes,
    }


def erratum_to_dict(e: Erratum) -> dict[str, Any]:
    return {
        "id": e.id, "source": e.source, "section": e.section, "key": e.key, "field": e.field,
        "was": e.was, "is": e.is_, "alias": e.alias, "why": e.why, "citation": e.citation,
    }


def spec_to_dict(spec: Spec, members: dict[str, dict[tuple[str, int], str]]) -> dict[str, Any]:
    return {
        "format": spec.format,
        "sources": [source_to_dict(s) for s in sorted(spec.sources, key=lambda s: s.path)],
        "category_rules": [
            {"first": hex4(a), "last": hex4(b), "category": c, "citation": cite}
            for a, b, c, cite in rules.CATEGORY_RULES
        ],
        "service_classes": [
            service_to_dict(s, members.get(s.id, {}))
            for s in sorted(spec.service_classes, key=lambda s: s.id)
        ],
        "errata": [erratum_to_dict(e) for e in sorted(spec.errata, key=lambda e: e.id)],
    }


def dumps(data: Any) -> str:
    """Stable text: sorted keys would scramble the reading order, so we keep insertion
    order (fixed by the functions above) and fix indentation and escaping."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
