"""Training curves as a PNG drawn with Pillow (no plotting library needed at training time).

One panel per scalar (losses, held-out IoU, sample diversity) over the step axis, each with its own
y range, so the model card shows how training went.
"""

import math
from pathlib import Path

from PIL import Image, ImageDraw

PANEL_SIZE = (360, 200)  # pixels per panel (width, height)
MARGIN = (52, 24, 12, 28)  # left, top, right, bottom inside a panel, pixels
COLUMNS = 3
LINE = (31, 119, 180)
SKIP = {"step", "images_per_s"}


def _format(value: float) -> str:
    return f"{value:.3g}"


def _panel(draw: ImageDraw.ImageDraw, origin: tuple[int, int], name: str,
           points: list[tuple[float, float]]) -> None:
    left, top = origin[0] + MARGIN[0], origin[1] + MARGIN[1]
    right, bottom = origin[0] + PANEL_SIZE[0] - MARGIN[2], origin[1] + PANEL_SIZE[1] - MARGIN[3]
    draw.rectangle([left, top, right, bottom], outline=(160, 160, 160))
    draw.text((left, origin[1] + 6), name, fill=(0, 0, 0))
    steps = [p[0] for p in points]
    values = [p[1] for p in points]
    x0, x1 = min(steps), max(steps)
    y0, y1 = min(values), max(values)
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5, y1 + 0.5
    if x1 == x0:
        x1 = x0 + 1
    draw.text((origin[0] + 4, top), _format(y1), fill=(80, 80, 80))
    draw.text((origin[0] + 4, bottom - 10), _format(y0), fill=(80, 80, 80))
    draw.text((left, bottom + 6), _format(x0), fill=(80, 80, 80))
    draw.text((right - 40, bottom + 6), f"step {_format(x1)}", fill=(80, 80, 80))
    pixels = [(left + (s - x0) / (x1 - x0) * (right - left), bottom - (v - y0) / (y1 - y0) * (bottom - top))
              for s, v in points]
    if len(pixels) == 1:
        x, y = pixels[0]
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=LINE)
    else:
        draw.line(pixels, fill=LINE, width=2)


def plot_curves(records: list[dict], path: str | Path, title: str = "") -> Path:
    """Draw every numeric scalar of `records` (metrics.jsonl lines, each with "step") to `path`.

    Returns the path; an empty `records` gives a small image that says so.
    """
    names = sorted({key for record in records for key, value in record.items()
                    if key not in SKIP and isinstance(value, (int, float))})
    rows = max(1, math.ceil(len(names) / COLUMNS))
    width = PANEL_SIZE[0] * min(COLUMNS, max(1, len(names)))
    image = Image.new("RGB", (width, PANEL_SIZE[1] * rows + 24), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, 6), title or "training curves", fill=(0, 0, 0))
    if not names:
        draw.text((8, 40), "no scalars logged", fill=(0, 0, 0))
    for index, name in enumerate(names):
        points = [(record["step"], float(record[name])) for record in records
                  if name in record and math.isfinite(float(record[name]))]
        if not points:
            continue
        origin = ((index % COLUMNS) * PANEL_SIZE[0], 24 + (index // COLUMNS) * PANEL_SIZE[1])
        _panel(draw, origin, name, points)
    path = Path(path)
    image.save(path)
    return path
