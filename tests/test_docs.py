"""The course's Markdown documents render as written: every table is a table.

A GitHub-flavoured table whose separator row (``|---|---|``) has another number of cells
than its header row is not rendered as a table at all, but as a paragraph of pipes. Each
table is checked twice: by counting the cells of the raw lines, and by parsing the file
with markdown-it-py (CommonMark with GitHub's table extension) and finding the table.
"""
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "INSTRUCTORS.md"]

SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def cells(row: str) -> int:
    """How many cells a table row has (GFM: split on pipes that are not escaped)."""
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return len(re.split(r"(?<!\\)\|", row))


def separator_lines(lines: list[str]) -> list[int]:
    """0-based indices of table separator rows that follow a row starting with ``|``,
    outside fenced code blocks."""
    found, fenced = [], False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced and i > 0 and SEPARATOR.match(line) and lines[i - 1].lstrip().startswith("|"):
            found.append(i)
    return found


def table_problems(name: str, text: str) -> list[str]:
    """Every table of ``text`` that would not render, as 'FILE:LINE: why' (1-based lines)."""
    lines = text.splitlines()
    problems = []
    seps = separator_lines(lines)
    for i in seps:
        header, sep = cells(lines[i - 1]), cells(lines[i])
        if header != sep:
            problems.append(f"{name}:{i + 1}: the separator row has {sep} cells, its header "
                            f"(line {i}) has {header}")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    starts = {t.map[0] for t in tokens if t.type == "table_open"}
    for i in seps:
        if i - 1 not in starts:
            problems.append(f"{name}:{i}: this table is not rendered as a table by markdown-it-py")
    if len(starts) != len(seps):
        problems.append(f"{name}: {len(starts)} tables rendered, {len(seps)} separator rows found")
    return problems


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_table_renders(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    assert separator_lines(text.splitlines()), f"{name}: no tables found (is the pattern right?)"
    problems = table_problems(name, text)
    assert not problems, "tables that do not render:\n" + "\n".join(problems)


def test_the_check_catches_a_short_separator():
    good = "text\n\n| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n"
    bad = "text\n\n| a | b | c |\n|---|---|\n| 1 | 2 | 3 |\n"
    assert table_problems("good.md", good) == []
    found = table_problems("bad.md", bad)
    assert any(p.startswith("bad.md:4: the separator row has 2 cells") for p in found), found
    assert any("bad.md:3: this table is not rendered" in p for p in found), found
