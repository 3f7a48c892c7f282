"""Rebuild the lines of an RST page whose newlines were collapsed into spaces.

What survives the damage is enough: every line of a grid table has the table's width,
so after a border ``+---+---+`` of width W the rows are W-character chunks separated
by one space; a section underline is a run of one punctuation character as long as
the title before it; explicit markup starts with ``.. ``. Each rebuilt line remembers
the column of the damaged file where it started, so problems still name a place.
"""

from __future__ import annotations

import re

import attrs

_BORDER = re.compile(r"\+(?:[-=]+\+)+")
_UNDERLINE = re.compile(r"(?<!\S)([=\-~^\"'`#*+])\1{2,}(?!\S)")
_EXPLICIT = re.compile(r"(?<!\S)\.\. (?=\S)")
_BULLET = re.compile(r"(?<=\S) ([*\-]) (?=\S)")


@attrs.frozen
class Unfolded:
    """The rebuilt text and, per rebuilt line, the 1-based column it came from."""

    text: str
    columns: tuple[int, ...]

    def column(self, line: int) -> int:
        if 1 <= line <= len(self.columns):
            return self.columns[line - 1]
        return self.columns[-1] if self.columns else 1


def looks_collapsed(text: str) -> bool:
    """A page with grid tables but (almost) no line breaks lost its newlines."""
    lines = text.count("\n") + 1
    return _BORDER.search(text) is not None and len(text) / lines > 400


def unfold(text: str) -> Unfolded:
    """Rebuild lines: grid tables by their width, prose by RST's own markers."""
    out: list[tuple[str, int]] = []  # (line, 0-based offset)
    pos = 0
    for start, end, rows in _tables(text):
        _prose(text[pos:start], pos, out)
        out.append(("", start))
        out.extend(rows)
        out.append(("", end))
        pos = end
    _prose(text[pos:], pos, out)
    return Unfolded("\n".join(line for line, _ in out) + "\n", tuple(o + 1 for _, o in out))


def _tables(text: str) -> list[tuple[int, int, list[tuple[str, int]]]]:
    """Find each grid table: (start, end, [(rebuilt line, offset)]).

    Borders survive intact and give the column widths; the rows between two borders
    lost their padding, so they are re-split on ``|`` and re-padded. A row block of n
    lines with p cells each yields n*(p+1)-1 segments (the collapsed newline between
    two lines looks like one more empty segment); p < columns means spanned cells.
    """
    found = []
    pos = 0
    while (first := _BORDER.search(text, pos)) is not None:
        border = first.group(0)
        widths = [len(part) for part in border[1:-1].split("+")]
        rows = [(border, first.start())]
        cur = first.end()
        while True:
            block_start = cur + 1
            if text[block_start : block_start + 1] != "|":
                break
            nxt = _BORDER.search(text, block_start)
            if nxt is None or len(nxt.group(0)) != len(border):
                break
            block = text[block_start : nxt.start()].rstrip()
            lines = _split_block(block, widths)
            if lines is None:
                break
            rows.extend((line, block_start) for line in lines)
            rows.append((nxt.group(0), nxt.start()))
            cur = nxt.end()
        if len(rows) >= 3:
            found.append((first.start(), cur, rows))
        pos = cur if len(rows) >= 3 else first.end()
    return found


def _split_block(block: str, widths: list[int]) -> list[str] | None:
    if not (block.startswith("|") and block.endswith("|")):
        return None
    segments = block[1:-1].split("|")
    ncols = len(widths)
    total = len(segments) + 1
    per_line = next((p for p in range(ncols, 0, -1) if total % (p + 1) == 0), None)
    if per_line is None:
        return None
    lines = []
    for n in range(total // (per_line + 1)):
        cells = segments[n * (per_line + 1) : n * (per_line + 1) + per_line]
        # Spanned cells: the last cell takes the remaining columns.
        spans = [1] * (per_line - 1) + [ncols - per_line + 1]
        parts = []
        col = 0
        for cell, span in zip(cells, spans, strict=True):
            width = sum(widths[col : col + span]) + span - 1
            col += span
            body = " " + cell.strip()
            if len(body) > width:
                return None
            parts.append(body.ljust(width))
        lines.append("|" + "|".join(parts) + "|")
    return lines


def _prose(chunk: str, offset: int, out: list[tuple[str, int]]) -> None:
    """Split non-table text into lines: titles with underlines, markup, paragraphs."""
    cuts: list[tuple[int, int, str]] = []  # (start, end, kind)
    for m in _UNDERLINE.finditer(chunk):
        length = len(m.group(0))
        title_start = _title_start(chunk, m.start(), length)
        if title_start is not None:
            cuts.append((title_start, m.end(), "title"))
    for m in _EXPLICIT.finditer(chunk):
        cuts.append((m.start(), m.start(), "explicit"))
    for m in _BULLET.finditer(chunk):
        cuts.append((m.start(1), m.start(1), "bullet"))
    cuts.sort()
    pos = 0
    for start, end, kind in cuts:
        if start < pos:
            continue
        _paragraph(chunk[pos:start], offset + pos, out)
        if kind == "title":
            underline_at = chunk.rindex(" ", start, end - 1) + 1
            out.append(("", offset + start))
            out.append((chunk[start : underline_at - 1].strip(), offset + start))
            out.append((chunk[underline_at:end], offset + underline_at))
            out.append(("", offset + end))
            pos = end
        else:
            pos = start
            if kind == "explicit":
                out.append(("", offset + start))
    _paragraph(chunk[pos:], offset + pos, out)


def _title_start(chunk: str, underline: int, length: int) -> int | None:
    """Where a title of at most ``length`` characters ending before ``underline`` starts.

    RST requires the underline to be at least as long as the title; we take the
    longest run of whole words before it that fits.
    """
    end = underline - 1
    if end <= 0 or chunk[end] != " ":
        return None
    start = end
    while True:
        prev = chunk.rfind(" ", 0, start - 1)
        candidate = prev + 1
        if end - candidate > length or start == 0:
            break
        start = candidate
        if prev < 0:
            break
    if start == end:
        return None
    # A title is the whole of its line: the text before it must end a sentence or a
    # markup construct, which a greedy cut cannot know. Accept when lengths match.
    if end - start != length and not _ends_block(chunk[:start]):
        return start if end - start >= length - 2 else None
    return start


def _ends_block(text: str) -> bool:
    stripped = text.rstrip()
    return not stripped or stripped.endswith((".", ":", "_", "`"))


def _paragraph(text: str, offset: int, out: list[tuple[str, int]]) -> None:
    lead = len(text) - len(text.lstrip())
    body = text.strip()
    if body:
        out.append((body, offset + lead))
