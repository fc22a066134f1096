"""A photo of two shipped example pieces side by side, for the tests of a user's click or box:
the object finder by itself keeps the table on the right, so a click on the chair has to win."""

from pathlib import Path

from PIL import Image

FURNITURE = Path(__file__).resolve().parents[1] / "examples" / "furniture"
SIDE = 256  # each piece fills a SIDE x SIDE square; the photo is 2 SIDE x SIDE
CHAIR_POINT = (128, 128)  # on the chair's seat (photo pixels)
TABLE_POINT = (384, 150)  # on the table's top


def chair_and_table() -> tuple[Image.Image, Image.Image, Image.Image]:
    """(photo, chair, table): the chair on the left half of the photo, the table on the right."""
    chair = Image.open(FURNITURE / "chair-plain.jpg").convert("RGB").resize((SIDE, SIDE))
    table = Image.open(FURNITURE / "table-plain.jpg").convert("RGB").resize((SIDE, SIDE))
    photo = Image.new("RGB", (2 * SIDE, SIDE), "white")
    photo.paste(chair, (0, 0))
    photo.paste(table, (SIDE, 0))
    return photo, chair, table
