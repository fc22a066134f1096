"""Credits for what training uses, as Markdown for the model cards: the Sweet Home 3D models
(credits_table) and pictures credited by a Debian copyright file (read_dep5, file_credit,
picture_credits_table)."""

import fnmatch
from collections.abc import Iterable
from pathlib import PurePosixPath

from train.data.sh3d import CatalogEntry

PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".svg")


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def credits_table(entries: Iterable[CatalogEntry]) -> str:
    """A Markdown table (model, category, author, licence, library), one row per distinct entry
    (by library and id), sorted by library then name. Returns "" when there is no entry."""
    unique = {(entry.library, entry.id): entry for entry in entries}
    if not unique:
        return ""
    lines = ["| Model | Category | Author | Licence | Library |", "|---|---|---|---|---|"]
    for entry in sorted(unique.values(), key=lambda entry: (entry.library, entry.name, entry.id)):
        cells = (entry.name, entry.pix3d_category or "", entry.creator, entry.license, entry.library)
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def read_dep5(text: str) -> list[dict[str, str]]:
    """A Debian machine-readable copyright file (DEP-5) -> its paragraphs, each {field: value}
    (field names lower-case; a value's continuation lines joined by newlines)."""
    paragraphs, current, field = [], {}, None
    for line in text.splitlines() + [""]:
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, field = {}, None
        elif line[0] in " \t" and field:
            current[field] += "\n" + line.strip()
        elif ":" in line:
            field, value = line.split(":", 1)
            field = field.strip().lower()
            current[field] = value.strip()
    return paragraphs


def file_credit(paragraphs: list[dict[str, str]], path: str) -> dict[str, str] | None:
    """The paragraph of a DEP-5 file that covers `path` (relative to the source tree): as DEP-5
    says, the last whose Files patterns match. A pattern naming a picture matches the same picture
    stored in another format (the .jpg of the source, the .webp of the build). None: no match."""
    stem = PurePosixPath(path).with_suffix("").as_posix()
    found = None
    for paragraph in paragraphs:
        for pattern in paragraph.get("files", "").split():
            plain = PurePosixPath(pattern)
            if fnmatch.fnmatchcase(path, pattern) or (
                    plain.suffix.lower() in PICTURE_SUFFIXES and fnmatch.fnmatchcase(stem, plain.with_suffix("").as_posix())):
                found = paragraph
    return found


def picture_credits_table(rows: Iterable[tuple[str, dict[str, str] | None]]) -> str:
    """(picture name, DEP-5 paragraph or None) pairs -> a Markdown table (picture, author, licence,
    source); "" without rows."""
    rows = list(rows)
    if not rows:
        return ""
    lines = ["| Picture | Author | Licence | Source |", "|---|---|---|---|"]
    for name, paragraph in sorted(rows, key=lambda row: row[0]):
        paragraph = paragraph or {}
        cells = (name, paragraph.get("copyright", "unknown"), paragraph.get("license", "unknown").split("\n")[0],
                 paragraph.get("comment", ""))
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"
