"""Readers: one per input form, each returning a ``RawPage`` (see ``raw``)."""

from __future__ import annotations

import re
from pathlib import Path

from codegen.extract.raw import Problem, RawPage, Where

FORMS = ("rst", "html", "html-text")


def sniff_form(path: str, text: str) -> str:
    """Guess a file's form when no manifest says it: extension first, then content."""
    suffix = Path(path).suffix.casefold()
    if suffix in (".rst", ".rest"):
        return "rst"
    if suffix in (".html", ".htm", ".xhtml"):
        return "html"
    head = text.lstrip()[:200].casefold()
    if head.startswith(("<!doctype html", "<html", "<?xml", "<div", "<section", "<table")):
        return "html"
    if re.search(r"^[=\-~^]{3,}\s*$", text, re.M) or re.search(r"\+(-{3,}\+)+ \|", text):
        return "rst"
    return "html-text"


def read_page(path: str, text: str, form: str | None = None) -> RawPage:
    """Read ``text`` (whose display path is ``path``) in ``form`` (sniffed if None)."""
    form = form or sniff_form(path, text)
    if form == "rst":
        from codegen.extract.rst import read_rst

        return read_rst(path, text)
    if form == "html":
        from codegen.extract.html import read_html

        return read_html(path, text)
    if form == "html-text":
        from codegen.extract.apipage import looks_like_api_page, read_api_page

        if looks_like_api_page(text):
            return read_api_page(path, text)
        from codegen.extract.htmltext import read_html_text

        return read_html_text(path, text)
    return RawPage(
        path, form, "", "", (), (Problem(Where(path, 1), f"unknown form '{form}'", "error"),)
    )
