"""The heatmap inspector in a real browser: JupyterLab (as `make lab` opens it) in headless
Chromium, a notebook that opens the inspector on the shipped weights, and the widgets
driven as a user would. Screenshots go to build/browser/ for a person to look at.

Skipped with one line when Chromium is missing, failed instead under CI=true (see
tests/browser.py); `.ci/run` installs Chromium first."""
import io
import json
import time

import numpy as np
import pytest

import browser

NOTEBOOK = [
    "from handlib import inspector as ins, pose_evaluation as pe, weights\n"
    "model = weights.load_model('regnet')\n"
    "app = ins.inspector(model, samples=pe.regression_samples()[:8])\n"
    "app",
]


def _pixels(locator) -> np.ndarray:
    """The element's pixels as shown (a screenshot of that element only)."""
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB")).astype(int)


def _changed(page, selector: str, before: str, timeout_ms: int = 30000, t0: float | None = None) -> float:
    """Wait until the image's source changes from ``before``; seconds since ``t0``
    (default: now)."""
    t0 = time.perf_counter() if t0 is None else t0
    page.wait_for_function("([s, b]) => { const e = document.querySelector(s); return e && e.src && e.src !== b; }",
                           arg=[selector, before], timeout=timeout_ms)
    return time.perf_counter() - t0


def test_the_inspector_works_in_jupyterlab(tmp_path):
    exe = browser.chromium_or_skip()
    browser.SHOTS.mkdir(parents=True, exist_ok=True)
    browser.write_notebook(tmp_path / "inspector_check.ipynb", NOTEBOOK)
    with browser.jupyterlab(tmp_path, env={"HANDLIB_QUICK": "1"}) as url, browser.browser_page(exe) as page:
        page.goto(f"{url}/lab/tree/inspector_check.ipynb")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120000)
        page.get_by_text("| Idle").first.wait_for(timeout=120000)          # the kernel is up
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            app = page.wait_for_selector(".handlib-inspector", timeout=240000)
        except Exception:
            page.screenshot(path=str(browser.SHOTS / "inspector_failed.png"), full_page=True)
            raise
        crop, heat = "img.handlib-crop", "img.handlib-heatmaps"
        page.wait_for_function("s => { const e = document.querySelector(s); return e && e.naturalWidth > 0; }",
                               arg=heat, timeout=60000)
        # widgets, not a text repr: the selectors and the images are in the page
        selects = page.locator(".handlib-inspector select")
        assert selects.count() >= 3
        assert page.locator(".handlib-inspector .widget-slider, .handlib-inspector .jupyter-widget-slider").count() >= 1
        assert "heatmap inspector" not in (app.inner_text() or "")      # the plain-text fallback is not shown
        page.locator(".handlib-inspector").screenshot(path=str(browser.SHOTS / "inspector_first.png"))

        # the joint selector changes the heatmaps shown
        heat_before, src_before = _pixels(page.locator(heat)), page.locator(heat).get_attribute("src")
        crop_before, crop_src = _pixels(page.locator(crop)), page.locator(crop).get_attribute("src")
        joint = selects.nth(2)
        t0 = time.perf_counter()
        joint.select_option(label="8 I3: index tip")
        t_joint = _changed(page, heat, src_before, t0=t0)
        heat_after = _pixels(page.locator(heat))
        assert heat_after.shape != heat_before.shape or np.abs(heat_after - heat_before).mean() > 1.0
        assert "I3" in page.locator(".handlib-inspector").inner_text()

        # the joint change redraws the crop too (the joint's ring): wait for it, then
        # take the crop as it is before the sample changes
        _changed(page, crop, crop_src)
        crop_before, crop_src = _pixels(page.locator(crop)), page.locator(crop).get_attribute("src")
        # then the sample selector (next button) changes the crop and the heatmaps
        src_before = page.locator(heat).get_attribute("src")
        t0 = time.perf_counter()
        page.get_by_role("button", name="next \u25b6").click()
        t_sample = _changed(page, crop, crop_src, t0=t0)
        _changed(page, heat, src_before)
        crop_after = _pixels(page.locator(crop))
        assert np.abs(crop_after - crop_before).mean() > 1.0
        assert "sample 2 of 8" in page.locator(".handlib-inspector").inner_text()   # counted from 1
        page.locator(".handlib-inspector").screenshot(path=str(browser.SHOTS / "inspector_joint8_sample1.png"))

        # worst-first ordering jumps to the largest error
        selects.nth(1).select_option(label="worst 3D first")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(browser.SHOTS / "inspector_page.png"), full_page=True)

        bad = [e for e in page.errors if any(w in e.lower() for w in ("widget", "handlib"))]
        assert not [e for e in page.errors if e.startswith("pageerror")] and not bad, page.errors
    (browser.SHOTS / "inspector_round_trip.json").write_text(json.dumps(
        {"joint_change_to_new_image_s": t_joint, "sample_change_to_new_image_s": t_sample,
         "note": "browser round trip, from the test's action (select, click) to the new image's source "
                 "in the page: browser event -> kernel redraw -> widget message -> image"}, indent=1))
