"""Facts of the standard the build checks sources against (PS3.6, PS3.7).

Kept as data in one place: the build validates with them and the JSON spec carries the
PS3.7 category rules to the generated ``statuses`` module, so the runtime never
hard-codes a status category.
"""

from __future__ import annotations

import re
from functools import cache

# PS3.7 Annex C: the category of a code follows from its value. Ordered; first match.
CATEGORY_RULES: tuple[tuple[int, int, str, str], ...] = (
    (0x0000, 0x0000, "Success", "PS3.7 C.1.1"),
    (0x0001, 0x0001, "Warning", "PS3.7 C.4.1"),
    (0x0107, 0x0107, "Warning", "PS3.7 C.4.2"),
    (0x0116, 0x0116, "Warning", "PS3.7 C.4.3"),
    (0x0100, 0x01FF, "Failure", "PS3.7 C.5"),
    (0x0200, 0x02FF, "Failure", "PS3.7 C.5"),
    (0xA000, 0xAFFF, "Failure", "PS3.7 C.5"),
    (0xB000, 0xBFFF, "Warning", "PS3.7 C.4"),
    (0xC000, 0xCFFF, "Failure", "PS3.7 C.5"),
    (0xFE00, 0xFE00, "Cancel", "PS3.7 C.3"),
    (0xFF00, 0xFF01, "Pending", "PS3.7 C.2"),
)

# PS3.7 9.1.x / 10.1.x: the general statuses (Annex C) every page restates; codes
# outside these are defined by the service class (PS3.4).
GENERAL_CODES = frozenset(
    {0x0000, 0x0001, 0xFE00}
    | set(range(0x0100, 0x0300))
)

# Codes an implementation may assign itself: PS3.4 leaves 0xC000-0xCFFF ("Cannot
# understand" / "Unable to process") to the SCP.
IMPLEMENTATION_RANGE = (0xC000, 0xCFFF)


# PS3.7 Annex C: what each general code means, as the words a description of it must
# contain (any one of them, after ``description_key``). A page that gives 0x0112 the
# meaning of 0x0122 is caught here even when no second source repeats the table.
GENERAL_MEANINGS: dict[int, tuple[str, ...]] = {
    0x0000: ("success",),
    0x0105: ("attribute",),
    0x0106: ("value",),
    0x0107: ("attribute",),
    0x0110: ("processing",),
    0x0111: ("duplicate",),
    0x0112: ("instance",),
    0x0113: ("event",),
    0x0114: ("argument",),
    0x0115: ("argument",),
    0x0116: ("range",),
    0x0117: ("instance",),
    0x0118: ("class",),
    0x0119: ("conflict",),
    0x0120: ("attribute",),
    0x0121: ("attribute",),
    0x0122: ("supported",),
    0x0123: ("action",),
    0x0124: ("authoriz",),
    0x0210: ("duplicate",),
    0x0211: ("unrecognized",),
    0x0212: ("mistyped",),
    0x0213: ("resource",),
    0xFE00: ("cancel", "terminat"),
}


def contradicts_ps37(code: int, description: str) -> bool:
    """True when ``description`` cannot be PS3.7's meaning of general ``code``."""
    words = GENERAL_MEANINGS.get(code)
    if words is None:
        return False
    key = description_key(description)
    return not any(word in key for word in words)


def category_of(code: int) -> str | None:
    """The PS3.7 category of ``code``, or None if PS3.7 gives the code no meaning."""
    for first, last, category, _ in CATEGORY_RULES:
        if first <= code <= last:
            return category
    return None


_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def uid_syntax_ok(uid: str) -> bool:
    """PS3.5 9.1: digits and dots, no leading zeros, at most 64 characters."""
    return len(uid) <= 64 and _UID.match(uid) is not None


@cache
def uid_registry() -> dict[str, tuple[str, str, str, bool]]:
    """PS3.6 Table A-1 as pydicom ships it: uid -> (name, type, keyword, retired)."""
    from pydicom._uid_dict import UID_dictionary

    return {
        uid: (name, kind, keyword, "Retired" in retired)
        for uid, (name, kind, _info, retired, keyword) in UID_dictionary.items()
    }


@cache
def keyword_registry() -> dict[str, str]:
    """PS3.6 keyword -> UID."""
    return {entry[2]: uid for uid, entry in uid_registry().items() if entry[2]}


def service_class_uid(name: str) -> str | None:
    """PS3.6 lists a few service classes under their own UID (Storage: 1.2.840.10008.4.2)."""
    wanted = name.casefold()
    for uid, (reg_name, kind, _kw, _retired) in uid_registry().items():
        if kind == "Service Class" and reg_name.casefold() == wanted:
            return uid
    return None


_PREFIX = re.compile(r"^(refused|error|warning|failure|failed|success|cancel|pending)\s*:\s*", re.I)
_SPELLING = (
    (re.compile(r"\bdata set\b"), "dataset"),
    (re.compile(r"\bdoesn[’']t\b"), "does not"),
    (re.compile(r"\bisn[’']t\b"), "is not"),
    (re.compile(r"\bcan[’']t\b|\bcannot\b"), "can not"),
    (re.compile(r"\bauthoris"), "authoriz"),
    (re.compile(r"\bunrecognis"), "unrecogniz"),
    (re.compile(r"\bsynchronis"), "synchroniz"),
    (re.compile(r"\borganis"), "organiz"),
)


def description_key(text: str) -> str:
    """What two descriptions must share to say the same thing.

    Case, punctuation, a leading "Refused:"/"Error:"/"Warning:" and British/American
    spelling are not meaning; words are.
    """
    text = text.casefold().replace("’", "'")
    text = _PREFIX.sub("", text)
    for pattern, repl in _SPELLING:
        text = pattern.sub(repl, text)
    return " ".join(re.findall(r"[a-z0-9]+", text))


_FUNCTION_WORDS = frozenset(
    {
        "a", "an", "the", "to", "of", "by", "with", "from", "and", "or", "for", "in", "on",
        "at", "as", "than", "that", "which", "is", "are", "was", "were", "be", "when", "if",
        "into", "onto",
    }
)


def looks_truncated(text: str) -> bool:
    """A description cut short by rendering ends mid-phrase or with open brackets."""
    stripped = text.strip()
    if not stripped:
        return True
    last = re.findall(r"[A-Za-z]+", stripped.split()[-1])
    if stripped[-1] in ",:;(-" or (last and last[-1].casefold() in _FUNCTION_WORDS):
        return True
    return stripped.count("(") > stripped.count(")")
