"""Benchmark of the Reconstruct tab in a real browser (Debian chromium, headless, software WebGL).

    python scripts/bench_browser.py                    # 5 fresh pages + 4 more clicks on the last one
    python scripts/bench_browser.py --fresh 3 --warm 2 --json runs/bench-browser.json

Starts `python app.py` on a free port as the load test does (scripts/load_test.py), waits until it answers, then for each fresh page: open the
page (page ready = the reconstruct button is visible; then wait until the example the page opens
with is drawn in both viewers), upload another example photo, click
"Reconstruct with both models", and time, from the click: each .glb fully received, and each
viewer's first draw call of its new mesh (tests/browser.py explains the WebGL hook). "Warm" rounds
click again on the same page with other photos (Babylon's code already loaded). Prints a table of
medians and writes every round as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from load_test import start_server  # noqa: E402  (same server start-up as the load test)

from tests.browser import (RECONSTRUCT_BUTTON, chromium_available, launch, reset_draws, upload_photo,  # noqa: E402
                           wait_for_meshes, wait_for_start_example)

PHOTOS = [p for p in sorted((ROOT / "examples" / "furniture").glob("*.jpg")) if p.name != "chair-plain.jpg"]  # not the start photo


def reconstruct(page, photo: Path) -> dict:
    upload_photo(page, photo)
    reset_draws(page)
    page.get_by_role("button", name=RECONSTRUCT_BUTTON).click()
    times = wait_for_meshes(page)
    times["both_drawn"] = max(times["cgan_drawn"], times["vae_drawn"])
    times["photo"] = photo.name
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", type=int, default=5, help="rounds on a freshly opened page")
    parser.add_argument("--warm", type=int, default=4, help="further clicks on the last page")
    parser.add_argument("--json", default=str(ROOT / "runs" / "bench-browser.json"))
    args = parser.parse_args()
    if not chromium_available():
        raise SystemExit("chromium not found (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    rounds = []
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as scratch:
        server, url, _ = start_server(Path(scratch), startup_timeout=300)
        try:
            with sync_playwright() as playwright:
                for index in range(args.fresh):
                    context = launch(playwright, Path(scratch) / f"profile-{index}")
                    page = context.new_page()
                    clock = time.perf_counter()
                    page.goto(url)
                    page.get_by_role("button", name=RECONSTRUCT_BUTTON).wait_for(state="visible")
                    ready = time.perf_counter() - clock
                    wait_for_start_example(page)
                    shown = time.perf_counter() - clock
                    rounds.append({"kind": "fresh", "page_ready": ready, "start_example_drawn": shown,
                                   **reconstruct(page, PHOTOS[index % len(PHOTOS)])})
                    if index < args.fresh - 1:
                        context.close()
                for index in range(args.warm):
                    rounds.append({"kind": "warm", **reconstruct(page, PHOTOS[(args.fresh + index) % len(PHOTOS)])})
                context.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"{'round':<7}{'photo':<20}{'ready s':>9}{'cGAN glb':>10}{'VAE glb':>9}{'cGAN drawn':>12}"
          f"{'VAE drawn':>11}{'both':>7}{'faces':>14}")
    for item in rounds:
        ready = f"{item['page_ready']:.2f}" if "page_ready" in item else "-"
        print(f"{item['kind']:<7}{item['photo']:<20}{ready:>9}{item['cgan_glb_loaded']:>10.2f}"
              f"{item['vae_glb_loaded']:>9.2f}{item['cgan_drawn']:>12.2f}{item['vae_drawn']:>11.2f}"
              f"{item['both_drawn']:>7.2f}{item['cgan_faces']:>7}/{item['vae_faces']}")
    summary = {}
    for kind in ("fresh", "warm"):
        chosen = [item for item in rounds if item["kind"] == kind]
        if chosen:
            summary[kind] = {key: round(statistics.median(item[key] for item in chosen), 3)
                             for key in ("both_drawn", "cgan_glb_loaded", "vae_glb_loaded")}
            summary[kind]["max_both_drawn"] = round(max(item["both_drawn"] for item in chosen), 3)
    for key in ("page_ready", "start_example_drawn"):
        values = [item[key] for item in rounds if key in item]
        if values:
            summary[f"{key}_median"] = round(statistics.median(values), 3)
            summary[f"{key}_max"] = round(max(values), 3)
    print(json.dumps(summary, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"cpu_count": os.cpu_count(), "summary": summary, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
