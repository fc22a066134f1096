"""Credits for the Sweet Home 3D models used in training, as Markdown for the model cards."""

from collections.abc import Iterable

from train.data.sh3d import CatalogEntry


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
