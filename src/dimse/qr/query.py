"""From a C-FIND, C-MOVE or C-GET Identifier to a validated query on an information model.

Validation is where an SCP decides between answering and failing, so the rules are
spelled out here (PS3.4 C.2.2.1, C.4.1.2.1, C.4.1.3, C.4.2.1.4.1, C.4.2.3.1):

* Hierarchical models need Query/Retrieve Level (0008,0052) naming one of their levels;
  the flat Protocol Approval model ignores it (Annex II: it "shall not be present").
* C-FIND, baseline (Hierarchical Search, C.4.1.3.1): above the query level only Unique
  Keys, each with a single value. Any other key there, and any key below the query
  level, is an :class:`IdentifierError` (A900), as dcmtk's and pynetdicom's SCPs do;
  with ``strict=False`` such keys are dropped instead and listed in ``unsupported``
  (answer FF01: "one or more Optional Keys were not supported"), and a list or wild
  card in a Unique Key above is matched as given (it can only narrow the answer).
* Private attributes (C.4.1.1.3.2 note 4) and Table C.3-1 attributes the index cannot
  derive are not supported: dropped and listed in ``unsupported``.
* An absent Unique Key above the query level is matched as universal (what
  relational-queries would do; UIDs are globally unique, so the answer is the same
  as if the SCU had named the parent) and returned: every response carries the Unique
  Keys of the levels above (C.4.1.3.1.1).
* C-FIND with relational-queries negotiated (C.4.1.3.2): keys of any level at or
  above the query level are matched against the ancestor entity of that level.
* C-MOVE/C-GET (C.4.2.1.4.1, C.4.2.3.1): the Unique Key of the retrieve level must be
  present and non-empty (one value at PATIENT level, one or a list below); Unique Keys
  above may be absent (relational-retrieve semantics; present, they must match);
  a Unique Key of a lower level is an IdentifierError. Required and Optional keys
  "shall not be" there (C.2.2.1.2) but copied C-FIND responses often carry them: they
  are ignored and listed in ``ignored``, since Unique Keys alone decide what moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dimse.qr.dicomjson import JsonElement
from dimse.qr.errors import IdentifierError
from dimse.qr.matching import (
    DateTimeMatcher,
    Matcher,
    MatchKind,
    compile_key,
    datetime_pair,
    has_wildcard,
)
from dimse.qr.models import ComputedKey, InformationModel, KeyType, Level, model_for

__all__ = [
    "NON_KEYS",
    "FindQuery",
    "MatchOptions",
    "QueryKey",
    "RetrieveQuery",
    "compile_find",
    "compile_retrieve",
    "resolve_model",
]

_QR_LEVEL = 0x00080052
# Identifier attributes that are never matched (C.2.2.2, C.4.1.1.3.1, C.4.1.1.3.2).
NON_KEYS = frozenset(
    {
        0x00080005,  # Specific Character Set
        _QR_LEVEL,
        0x00080053,  # Query/Retrieve View
        0x00080054,  # Retrieve AE Title (response only)
        0x00080056,  # Instance Availability (response only)
        0x00080201,  # Timezone Offset From UTC
        0x00880130,  # Storage Media File-Set ID
        0x00880140,  # Storage Media File-Set UID
    }
)
_COMPUTED = frozenset(k.value for k in ComputedKey)


@attrs.frozen
class MatchOptions:
    """What the association negotiated (C.5.1.1) and how strict the SCP is."""

    relational: bool = False  # relational-queries accepted
    combined_datetime: bool = False  # combined date-time matching accepted
    case_insensitive_pn: bool = True  # see dimse.qr.matching
    strict: bool = True  # keys at the wrong level: IdentifierError (else dropped, FF01)


@attrs.frozen
class QueryKey:
    """A request key, the level whose entity it is matched against, and whether the
    index derives it (C.3.4) instead of reading it from an instance."""

    level: Level
    matcher: Matcher
    computed: ComputedKey | None = None
    match: bool = True  # False: returned only (paired date/time, added unique keys)

    @property
    def keyword(self) -> str:
        return self.matcher.keyword


View = Callable[[QueryKey], JsonElement | None]


@attrs.frozen
class FindQuery:
    """A validated C-FIND: keys by level, combined date-time pairs, dropped keys."""

    model: InformationModel
    level: Level
    keys: tuple[QueryKey, ...]
    pairs: tuple[tuple[QueryKey, QueryKey, DateTimeMatcher], ...] = ()
    unsupported: tuple[str, ...] = ()

    def matches(self, view: View) -> bool:
        for key in self.keys:
            if key.match and not key.matcher.universal and not key.matcher.matches(view(key)):
                return False
        return all(pair.matches(view(date), view(time)) for date, time, pair in self.pairs)

    def response(self, view: View) -> dict[str, JsonElement]:
        """The identifier of one match: every key with the entity's value."""
        return {key.matcher.key: key.matcher.select(view(key)) for key in self.keys}

    def drop(self, keywords: Iterable[str]) -> FindQuery:
        """This query without ``keywords`` (keys the index cannot supply)."""
        gone = set(keywords)
        if not gone:
            return self
        pairs = tuple(p for p in self.pairs if not {p[0].keyword, p[1].keyword} & gone)
        keys = tuple(k for k in self.keys if k.keyword not in gone)
        unsupported = self.unsupported + tuple(sorted(gone & {k.keyword for k in self.keys}))
        return attrs.evolve(self, keys=keys, pairs=pairs, unsupported=unsupported)


@attrs.frozen
class RetrieveQuery:
    """A validated C-MOVE/C-GET: the Unique Key values that select instances."""

    model: InformationModel
    level: Level
    uids: tuple[tuple[Level, tuple[str, ...]], ...]
    ignored: tuple[str, ...] = ()


def resolve_model(model: InformationModel | str) -> InformationModel:
    """An information model from itself or from one of its SOP Class UIDs."""
    if isinstance(model, InformationModel):
        return model
    try:
        return model_for(model)
    except KeyError:
        raise IdentifierError(f"{model} is not a Query/Retrieve SOP Class") from None


def _query_level(identifier: Dataset, model: InformationModel, level: Level | str | None) -> Level:
    element = identifier.get(_QR_LEVEL)
    given = str(element.value or "").strip() if element is not None else ""
    if level is not None:
        wanted = str(level.value if isinstance(level, Level) else level).strip()
        if given and given != wanted:
            raise IdentifierError(
                f"Query/Retrieve Level {given!r} but {wanted!r} was asked", [_QR_LEVEL]
            )
        given = wanted
    if not given:
        raise IdentifierError("Query/Retrieve Level (0008,0052) is missing", [_QR_LEVEL])
    try:
        result = Level(given)
    except ValueError:
        raise IdentifierError(f"{given!r} is not a Query/Retrieve Level", [_QR_LEVEL]) from None
    if not model.has_level(result):
        raise IdentifierError(f"the {model.name} model has no {result} level", [_QR_LEVEL])
    return result


def _keys_of(identifier: Dataset) -> Iterable[DataElement]:
    for element in identifier:
        tag = element.tag
        if int(tag) in NON_KEYS or tag.group < 0x0008 or tag.element == 0x0000:
            continue
        yield element


def _single_value(element: DataElement) -> bool:
    if element.VR == "SQ" or element.VM > 1:
        return False
    return element.is_empty or not has_wildcard(str(element.value))


def compile_find(
    identifier: Dataset,
    model: InformationModel | str,
    level: Level | str | None = None,
    options: MatchOptions | None = None,
) -> FindQuery:
    """Validate a C-FIND Identifier against ``model`` (see the module docstring)."""
    model = resolve_model(model)
    options = options or MatchOptions()
    query_level = _query_level(identifier, model, level) if model.hierarchical else model.bottom
    keys: list[QueryKey] = []
    unsupported: list[str] = []

    def refuse(element: DataElement, why: str) -> None:
        if options.strict:
            raise IdentifierError(f"{element.keyword}: {why}", [int(element.tag)])
        unsupported.append(element.keyword)

    for element in _keys_of(identifier):
        keyword = element.keyword
        if element.tag.is_private or not keyword:
            unsupported.append(keyword or f"{int(element.tag):08X}")
            continue
        key_level = model.level_of(keyword) if model.hierarchical else None
        key_level = key_level or query_level
        if key_level.depth > query_level.depth:
            refuse(element, f"a {key_level} key in a {query_level} query (C.4.1.2.1)")
            continue
        entry = model.level_keys(key_level)
        if key_level is not query_level and not options.relational:
            if keyword != entry.unique:
                refuse(element, f"only Unique Keys above the {query_level} level (C.4.1.2.1)")
                continue
            if not _single_value(element) and options.strict:
                # Lenient: matched as given (a list or wild card narrows, never widens).
                refuse(element, "a key above the query level takes one value (C.4.1.2.1)")
        key_type = model.key_type(keyword, key_level)
        matcher = compile_key(
            element,
            empty_matches=key_type is not KeyType.UNIQUE,
            fold_pn=options.case_insensitive_pn,
        )
        computed = ComputedKey(keyword) if keyword in _COMPUTED else None
        keys.append(QueryKey(key_level, matcher, computed))
    keys.extend(_parent_unique_keys(model, query_level, {k.keyword for k in keys}))
    keys, pairs = _pairs(model, keys, options)
    return FindQuery(model, query_level, tuple(keys), pairs, tuple(unsupported))


def _parent_unique_keys(model: InformationModel, level: Level, present: set[str]) -> list[QueryKey]:
    if not model.hierarchical:
        return []
    added = []
    for entry in model.levels_down_to(level)[:-1]:
        if entry.unique not in present:
            tag = tag_for_keyword(entry.unique)
            assert tag is not None
            matcher = Matcher(
                tag, entry.unique, dictionary_VR(tag), MatchKind.UNIVERSAL, empty_matches=False
            )
            added.append(QueryKey(entry.level, matcher, match=False))
    return added


def _pairs(
    model: InformationModel, keys: list[QueryKey], options: MatchOptions
) -> tuple[list[QueryKey], tuple[tuple[QueryKey, QueryKey, DateTimeMatcher], ...]]:
    by_keyword = {k.keyword: k for k in keys}
    forced = dict(model.combined_datetime)
    candidates = dict(forced)
    if options.combined_datetime:
        for key in keys:
            if key.matcher.vr == "DA" and key.keyword.endswith("Date"):
                candidates.setdefault(key.keyword, key.keyword[:-4] + "Time")
    pairs = []
    for date_kw, time_kw in candidates.items():
        date, time = by_keyword.get(date_kw), by_keyword.get(time_kw)
        if date is None or time is None or date.level is not time.level:
            continue
        combined = datetime_pair(date.matcher, time.matcher)
        if combined is None:
            continue
        date_ret, time_ret = attrs.evolve(date, match=False), attrs.evolve(time, match=False)
        keys = [date_ret if k is date else time_ret if k is time else k for k in keys]
        pairs.append((date_ret, time_ret, combined))
    return keys, tuple(pairs)


def _uid_values(element: DataElement) -> tuple[str, ...]:
    if element.is_empty:
        return ()
    value = element.value
    values = [value] if isinstance(value, str) or element.VM == 1 else list(value)
    return tuple(str(v).strip().rstrip("\x00") for v in values if str(v).strip())


def compile_retrieve(
    identifier: Dataset,
    model: InformationModel | str,
    level: Level | str | None = None,
) -> RetrieveQuery:
    """Validate a C-MOVE/C-GET Identifier against ``model`` (see the module docstring)."""
    model = resolve_model(model)
    retrieve_level = _query_level(identifier, model, level) if model.hierarchical else model.bottom
    uniques = {entry.unique: entry.level for entry in model.levels}
    uids: dict[Level, tuple[str, ...]] = {}
    ignored: list[str] = []
    for element in _keys_of(identifier):
        keyword = element.keyword
        key_level = uniques.get(keyword)
        if key_level is None:
            ignored.append(keyword or f"{int(element.tag):08X}")
            continue
        if key_level.depth > retrieve_level.depth:
            raise IdentifierError(
                f"{keyword}: a {key_level} key in a {retrieve_level} retrieve (C.4.2.1.4.1)",
                [int(element.tag)],
            )
        values = _uid_values(element)
        if not values:
            continue
        if key_level is Level.PATIENT and len(values) > 1:
            raise IdentifierError(
                "Patient ID takes Single Value Matching only (C.4.2.1.4.1)", [int(element.tag)]
            )
        uids[key_level] = values
    if retrieve_level not in uids:
        unique = model.level_keys(retrieve_level).unique
        tag = tag_for_keyword(unique)
        raise IdentifierError(
            f"{unique} is required for a {retrieve_level} retrieve (C.4.2.2.1)",
            [tag] if tag is not None else [],
        )
    ordered = tuple((lv.level, uids[lv.level]) for lv in model.levels if lv.level in uids)
    return RetrieveQuery(model, retrieve_level, ordered, tuple(ignored))
