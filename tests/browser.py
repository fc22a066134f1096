"""Driving the app in Debian's chromium: launch flags, and exact mesh-drawn timing for the 3D viewers.

Used by tests/test_browser.py and scripts/bench_browser.py. Timing a 3D viewer by screenshots is
coarse (each screenshot of a software-rendered WebGL canvas takes 0.1-0.3 s), so an init script
wraps WebGL's calls instead: for each viewer (`#cgan-view`, `#vae-view`) it notes the index buffers
uploaded since the last reset and the first `performance.now()` at which each was drawn. A mesh of
F triangles is an index buffer of 3F entries, so "the new cGAN mesh is on screen" is the first draw
of an uploaded 3F-index buffer on the cGAN canvas after the click; the previous mesh, drawn every
frame until it is replaced, never counts, even when it has the same size.
"""

from __future__ import annotations

import io
import os
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

CHROMIUM = os.environ.get("RECON_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWERS = ("cgan", "vae")
RECONSTRUCT_BUTTON = "Reconstruct with both models"

DRAW_HOOK = """
(() => {
  performance.setResourceTimingBufferSize(100000);  // Gradio alone loads more than the default 250
  window.__reconUploads = {};  // viewer id -> index counts of index buffers uploaded since the reset
  window.__reconDraws = {};    // viewer id -> {index count: first performance.now() it was drawn}
  window.__reconClick = null;  // performance.now() of the last click on the reconstruct button
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button");
    if (button && button.textContent.includes("%s")) window.__reconClick = performance.now();
  }, true);
  const viewerOf = (gl) => gl.canvas && gl.canvas.closest && gl.canvas.closest("[id$='-view']");
  const wrap = (proto) => {
    const upload = proto.bufferData;
    proto.bufferData = function (target, data, ...rest) {
      const view = viewerOf(this);
      if (view && target === 0x8893 && data && data.length !== undefined) {  // ELEMENT_ARRAY_BUFFER
        (window.__reconUploads[view.id] ||= {})[data.length] = true;
      }
      return upload.call(this, target, data, ...rest);
    };
    for (const name of ["drawElements", "drawElementsInstanced"]) {
      const draw = proto[name];
      if (!draw) continue;
      proto[name] = function (...args) {
        const view = viewerOf(this);
        if (view && (window.__reconUploads[view.id] || {})[args[1]]) {
          const seen = (window.__reconDraws[view.id] ||= {});
          if (!(args[1] in seen)) seen[args[1]] = performance.now();
        }
        return draw.apply(this, args);
      };
    }
  };
  if (window.WebGLRenderingContext) wrap(WebGLRenderingContext.prototype);
  if (window.WebGL2RenderingContext) wrap(WebGL2RenderingContext.prototype);
})();
""" % RECONSTRUCT_BUTTON


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file() or shutil.which(CHROMIUM) is not None


def launch(playwright, profile: Path):
    """A persistent chromium context with the project's flags, a fresh profile and the draw hook."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
        viewport={"width": 1400, "height": 1000})
    context.add_init_script(DRAW_HOOK)
    return context


GLB_SINCE_CLICK = """() => {
  const since = window.__reconClick;
  if (since === null) return null;
  const found = {};
  for (const entry of performance.getEntriesByType("resource")) {
    const match = entry.name.match(/\\/(cgan|vae)\\.glb(\\?|$)/);
    if (match && entry.startTime >= since) found[match[1]] = [entry.name, (entry.responseEnd - since) / 1000];
  }
  return Object.keys(found).length === 2 ? found : null;
}"""


def wait_for_meshes(page, timeout_s: float = 60.0) -> dict[str, float]:
    """Wait until both viewers have drawn the meshes of the last reconstruct click.

    Returns seconds from the click: `{kind}_glb_loaded` (the .glb fully received) and
    `{kind}_drawn` (first draw call with the new mesh's 3 x faces indices), per model.
    """
    handle = page.wait_for_function(GLB_SINCE_CLICK, timeout=timeout_s * 1000)
    glbs = handle.json_value()
    faces = {}
    for kind, (url, _) in glbs.items():
        with urllib.request.urlopen(url, timeout=30) as response:
            faces[kind] = len(trimesh.load(io.BytesIO(response.read()), file_type="glb", force="mesh").faces)
    page.wait_for_function(
        "counts => Object.entries(counts).every(([kind, n]) => "
        "(window.__reconDraws[kind + '-view'] || {})[n] !== undefined)",
        arg={kind: 3 * count for kind, count in faces.items()}, timeout=timeout_s * 1000)
    draws, clicked = page.evaluate("() => [window.__reconDraws, window.__reconClick]")
    times = {}
    for kind in VIEWERS:
        times[f"{kind}_glb_loaded"] = glbs[kind][1]
        times[f"{kind}_drawn"] = (draws[f"{kind}-view"][str(3 * faces[kind])] - clicked) / 1000
        times[f"{kind}_faces"] = faces[kind]
    return times


def reset_draws(page) -> None:
    """Forget earlier meshes: only index buffers uploaded after this count as new meshes."""
    page.evaluate("() => { window.__reconDraws = {}; window.__reconUploads = {}; }")


def canvas_spread(page, selector: str, path: Path | None = None) -> float:
    """Std of a canvas's screenshot pixels (0 for a blank, single-colour canvas)."""
    png = page.locator(selector).screenshot(path=None if path is None else str(path))
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32).std())


def upload_photo(page, photo: Path, timeout_s: float = 30.0) -> None:
    """Put `photo` into the Reconstruct tab's upload and wait until the page shows it.

    The page opens with an example photo already there, so "an image is visible" proves nothing:
    wait for the image's source to change and the new image to be decoded.
    """
    image = "#photo img"
    before = page.evaluate("sel => { const i = document.querySelector(sel); return i ? i.src : null; }", image)
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.wait_for_function("([sel, old]) => { const i = document.querySelector(sel); "
                           "return i && i.src !== old && i.complete && i.naturalWidth > 0; }",
                           arg=[image, before], timeout=timeout_s * 1000)


def wait_for_start_example(page, timeout_s: float = 60.0) -> None:
    """Wait until both viewers have drawn the example the page opens with (any uploaded mesh)."""
    page.wait_for_function("() => ['cgan-view', 'vae-view'].every(v => "
                           "Object.keys(window.__reconDraws[v] || {}).some(n => Number(n) > 3000))",
                           timeout=timeout_s * 1000)


def canvas_hue_mix(page, selector: str, path: Path | None = None, background=(242, 242, 245)) -> float:
    """Share of a canvas's coloured object pixels whose hue is more than 40 degrees from the
    object's dominant hue: about 0 for a mesh of one hue (grey, or the warm confidence ramp),
    large for a mesh painted in the photo's several colours. Background: the viewer's clear colour."""
    png = page.locator(selector).screenshot(path=None if path is None else str(path))
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)
    hsv = np.asarray(Image.open(io.BytesIO(png)).convert("HSV"), dtype=np.float32)
    on_object = np.abs(rgb - np.array(background)).max(axis=2) > 25
    coloured = on_object & (hsv[..., 1] > 0.12 * 255) & (hsv[..., 2] > 0.1 * 255)
    hues = hsv[..., 0][coloured] * 360.0 / 256.0
    if len(hues) < 100:
        return 0.0
    counts, edges = np.histogram(hues, bins=36, range=(0, 360))
    dominant = edges[np.argmax(counts)] + 5.0
    distance = np.abs((hues - dominant + 180.0) % 360.0 - 180.0)
    return float((distance > 40.0).mean())


def fetch_image(page, source: str) -> io.BytesIO:
    """The bytes of an <img>'s source as the page sees it (a data: URL or a file the app serves)."""
    if source.startswith("data:"):
        import base64

        return io.BytesIO(base64.b64decode(source.split(",", 1)[1]))
    return io.BytesIO(page.request.get(source).body())
