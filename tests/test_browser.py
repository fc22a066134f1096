"""A real browser (Debian's chromium, driven by Playwright) on the real app: reconstruct an example,
check both 3D viewers draw something, click four AR corners and get the composite, and let the AR
tab find a sheet of paper by itself, then undo one of its corners and render.

Screenshots and timings are kept under pytest's temp dir (printed; see `browser-artifacts*`).
Never runs `playwright install`: chromium comes from apt (.ci/run installs it).
"""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import browser
from tests.two_pieces import CHAIR_POINT, chair_and_table

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "furniture" / "sofa-room.jpg"  # not the start photo the page opens on
COLOURFUL = ROOT / "examples" / "furniture" / "bed-plain.jpg"  # purple bedding on a wooden frame
SCENE = ROOT / "examples" / "scenes" / "room.jpg"
TRUE_CORNERS = json.loads((ROOT / "examples" / "scenes" / "room.json").read_text())
SHEET_SCENE = ROOT / "examples" / "scenes" / "room-sheet.jpg"  # a plain A4 sheet (scripts/make_sheet_scene.py)
SHEET_CORNERS = json.loads((ROOT / "examples" / "scenes" / "room-sheet.json").read_text())


def _require_chromium():
    if browser.chromium_available():
        return
    message = f"chromium not found at {browser.CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must run the browser checks, never silently skip them
    pytest.skip(message)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-artifacts")
    print(f"\nbrowser screenshots and timings: {folder}")
    return folder


@pytest.fixture(scope="module")
def page(tmp_path_factory, server, artifacts):
    """A chromium page on the freshly started app; records every request URL it makes."""
    _require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    url = server[1]
    with sync_api.sync_playwright() as playwright:
        context = browser.launch(playwright, tmp_path_factory.mktemp("chromium-profile"))
        browser_page = context.new_page()
        browser_page.requests = []
        browser_page.on("request", lambda request: browser_page.requests.append(request.url))
        clock = time.perf_counter()
        browser_page.goto(url)
        browser_page.get_by_role("button", name=browser.RECONSTRUCT_BUTTON).wait_for(state="visible")
        browser_page.timings = {"page_ready_s": time.perf_counter() - clock}
        browser_page.base_url = url
        yield browser_page
        (artifacts / "timings.json").write_text(json.dumps(browser_page.timings, indent=2))
        print(f"browser timings: {browser_page.timings}")
        context.close()


def test_page_is_ready_fast_and_offline(page):
    assert page.timings["page_ready_s"] < 10
    outside = [u for u in page.requests if not u.startswith((page.base_url, "data:", "blob:"))]
    assert outside == [], outside


def test_reconstruct_shows_both_meshes(page, artifacts):
    browser.wait_for_start_example(page)  # the page opens on a finished example
    browser.upload_photo(page, PHOTO)
    browser.reset_draws(page)
    page.get_by_role("button", name=browser.RECONSTRUCT_BUTTON).click()
    times = browser.wait_for_meshes(page)  # each viewer ran a draw call with its new mesh
    page.timings.update({f"click_to_{key}_s" if "faces" not in key else key: value for key, value in times.items()})
    for name in browser.VIEWERS:
        assert times[f"{name}_faces"] > 1000  # a real mesh, not an empty placeholder
        assert 0 < times[f"{name}_glb_loaded"] <= times[f"{name}_drawn"]
    time.sleep(2)  # let Babylon finish framing the mesh before the record screenshot
    page.screenshot(path=str(artifacts / "reconstruct.png"), full_page=True)
    spreads = [browser.canvas_spread(page, f"#{name}-view canvas", artifacts / f"{name}-canvas.png")
               for name in browser.VIEWERS]
    assert min(spreads) > 8, spreads  # both viewers show a shaded mesh, not a blank canvas


def _reconstruct_and_measure_colours(page, artifacts, name: str) -> float:
    browser.reset_draws(page)
    page.get_by_role("button", name=browser.RECONSTRUCT_BUTTON).click()
    browser.wait_for_meshes(page)
    time.sleep(2)  # Babylon frames the new mesh
    return browser.canvas_hue_mix(page, "#cgan-view canvas", artifacts / f"cgan-{name}.png")


def test_viewer_shows_the_photos_colours(page, artifacts):
    browser.upload_photo(page, COLOURFUL)
    photo = _reconstruct_and_measure_colours(page, artifacts, "photo-colours")
    page.get_by_text("Options", exact=True).click()
    page.get_by_label("plain").check()
    plain = _reconstruct_and_measure_colours(page, artifacts, "plain-colours")
    page.get_by_label("photo").check()
    page.timings.update({"hue_mix_photo": photo, "hue_mix_plain": plain})
    # A purple bed on a wooden frame shows two hues; the plain confidence ramp only warm ones.
    assert photo > 0.15 > plain, (photo, plain)


def test_a_click_on_the_object_picks_what_is_cropped(page, artifacts, tmp_path):
    """Two pieces side by side, where the finder by itself keeps the table on the right: one click
    on the chair in the picker writes that point, and the next reconstruction crops the chair."""
    scene, chair, table = chair_and_table()
    path = tmp_path / "chair-and-table.png"
    scene.save(path)
    browser.upload_photo(page, path)
    page.get_by_text("Wrong object or crop? Click on it, or draw a box").click()
    picker = "#box-picker img"
    page.wait_for_function("sel => { const i = document.querySelector(sel); return i && i.complete && "
                           "i.naturalWidth === 512; }", arg=picker, timeout=30_000)
    _click_image_pixel(page, picker, *CHAIR_POINT)
    page.wait_for_function("sel => document.querySelector(sel).value.startsWith('[')",
                           arg="#crop-box textarea, #crop-box input", timeout=30_000)
    point = json.loads(page.locator("#crop-box textarea, #crop-box input").first.input_value())
    np.testing.assert_allclose(point, np.add(CHAIR_POINT, 0.5), atol=4)
    before = page.locator("#model-input img").first.get_attribute("src")
    browser.reset_draws(page)
    page.get_by_role("button", name=browser.RECONSTRUCT_BUTTON).click()
    browser.wait_for_meshes(page)
    page.wait_for_function("([sel, old]) => { const i = document.querySelector(sel); "
                           "return i && i.src !== old && i.complete && i.naturalWidth > 0; }",
                           arg=["#model-input img", before], timeout=30_000)
    page.screenshot(path=str(artifacts / "click-on-the-object.png"), full_page=True)
    source = page.locator("#model-input img").first.get_attribute("src")
    preview = np.asarray(Image.open(browser.fetch_image(page, source)).convert("RGB"), np.float32)
    crop = preview[:, : preview.shape[0]]  # the left half: the crop the models saw
    size = (crop.shape[1], crop.shape[0])
    assert np.abs(crop - np.asarray(chair.resize(size), np.float32)).mean() < \
        np.abs(crop - np.asarray(table.resize(size), np.float32)).mean()
    page.get_by_role("button", name="Clear box").click()
    page.wait_for_function("sel => document.querySelector(sel).value === 'auto'",
                           arg="#crop-box textarea, #crop-box input", timeout=30_000)
    page.get_by_text("Wrong object or crop? Click on it, or draw a box").click()  # folded again


def test_about_tab_opens_on_the_evaluation_table(page, artifacts):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.get_by_role("tab", name="About").click()
    table = page.locator("#evaluation table").first
    table.wait_for(state="visible", timeout=30_000)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "about.png"))
    box = table.bounding_box()
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.timings["about_page_height_px"] = height
    page.set_viewport_size({"width": 1400, "height": 1000})  # back to the other tests' size
    assert box["y"] < 900, box  # on the first screen, no scrolling
    assert height < 4000, height  # the protocol, model cards and credits are folded away
    page.get_by_text("How it was measured: protocol").click()
    page.get_by_text("a whole library that training never saw").first.wait_for(state="visible", timeout=10_000)


def _click_image_pixel(page, selector: str, x: float, y: float) -> None:
    """Click the photo pixel (x, y) of an <img> drawn with object-fit: contain."""
    image = page.locator(selector)
    box = image.bounding_box()
    natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    scale = min(box["width"] / natural[0], box["height"] / natural[1])
    left = box["x"] + (box["width"] - natural[0] * scale) / 2
    top = box["y"] + (box["height"] - natural[1] * scale) / 2
    page.mouse.click(left + (x + 0.5) * scale, top + (y + 0.5) * scale)


def test_ar_four_clicks_then_render(page, artifacts):
    page.get_by_role("tab", name="AR: place it in your room").click()
    page.locator("#scene input[type=file]").set_input_files(str(SCENE))
    canvas_image = "#scene-canvas img"
    page.locator(canvas_image).first.wait_for(state="visible", timeout=30_000)
    corners_box = page.locator("#corners textarea, #corners input").first
    for count, (x, y) in enumerate(TRUE_CORNERS, start=1):
        before = page.locator(canvas_image).first.get_attribute("src")
        _click_image_pixel(page, canvas_image, x, y)
        # Each click redraws the photo with one more dot.
        page.wait_for_function("([sel, old]) => { const i = document.querySelector(sel); return i && i.src !== old; }",
                               arg=[canvas_image, before], timeout=30_000)
    page.wait_for_function("sel => document.querySelector(sel).value.length > 0",
                           arg="#corners textarea, #corners input", timeout=30_000)
    clicked = json.loads(corners_box.input_value())
    np.testing.assert_allclose(clicked, TRUE_CORNERS, atol=4)
    page.screenshot(path=str(artifacts / "ar-corners.png"), full_page=True)
    clock = time.perf_counter()
    page.get_by_role("button", name="Render", exact=True).click()
    page.locator("#composite img").first.wait_for(state="visible", timeout=60_000)
    page.timings["ar_render_s"] = time.perf_counter() - clock
    natural = page.locator("#composite img").first.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural == list(Image.open(SCENE).size)
    page.screenshot(path=str(artifacts / "ar-composite.png"), full_page=True)


def test_ar_find_the_sheet_then_render(page, artifacts):
    """Runs after the clicks test (same page, AR tab open, the mesh from the reconstruct test)."""
    page.get_by_role("tab", name="AR: place it in your room").click()
    canvas_image = "#scene-canvas img"
    before = page.locator(canvas_image).first.get_attribute("src")
    page.locator("#scene input[type=file]").set_input_files(str(SHEET_SCENE))
    page.wait_for_function("([sel, old]) => { const i = document.querySelector(sel); return i && i.src !== old; }",
                           arg=[canvas_image, before], timeout=30_000)
    corners_box = page.locator("#corners textarea, #corners input").first
    page.wait_for_function("sel => document.querySelector(sel).value.length === 0",
                           arg="#corners textarea, #corners input", timeout=30_000)  # a new photo: no corners
    clock = time.perf_counter()
    page.get_by_role("button", name="Find the sheet").click()
    page.wait_for_function("sel => document.querySelector(sel).value.length > 0",
                           arg="#corners textarea, #corners input", timeout=30_000)
    page.timings["find_sheet_s"] = time.perf_counter() - clock
    found = json.loads(corners_box.input_value())
    np.testing.assert_allclose(found, SHEET_CORNERS, atol=1.5)
    page.screenshot(path=str(artifacts / "ar-sheet-found.png"), full_page=True)
    # The found corners are ordinary clicks: undo drops the last one.
    page.get_by_role("button", name="Undo last corner").click()
    page.wait_for_function("sel => document.querySelector(sel).value.length === 0",
                           arg="#corners textarea, #corners input", timeout=30_000)
    page.get_by_role("button", name="Find the sheet").click()
    page.wait_for_function("sel => document.querySelector(sel).value.length > 0",
                           arg="#corners textarea, #corners input", timeout=30_000)
    composite = "#composite img"
    before = page.locator(composite).first.get_attribute("src")
    page.get_by_role("button", name="Render", exact=True).click()
    page.wait_for_function("([sel, old]) => { const i = document.querySelector(sel); "
                           "return i && i.src !== old && i.complete && i.naturalWidth > 0; }",
                           arg=[composite, before], timeout=60_000)
    natural = page.locator(composite).first.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural == list(Image.open(SHEET_SCENE).size)
    page.screenshot(path=str(artifacts / "ar-sheet-composite.png"), full_page=True)
