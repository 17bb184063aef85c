"""`make html`'s pages in a real browser: the index links every notebook in order with
its synopsis and times, and every page loads and shows all of its figures.

The pages are built here the way `make html` builds them (tools/course_build.py), but
from a quick-mode run so that CI can afford it (about four minutes on two cores); the
full-mode pages differ only in the amount of data behind the figures. Skipped with one
line without Chromium, failed under CI=true (tests/browser.py)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import browser

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "course_build.py"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IMAGE_MIMES = ("image/png", "image/jpeg")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    exe = browser.chromium_or_skip()                 # before paying for the execution
    root = tmp_path_factory.mktemp("course-html")
    for cmd in (["execute", "--mode", "quick", "--out", str(root / "executed")],
                ["html", "--executed", str(root / "executed"), "--out", str(root / "html")],
                ["html", "--executed", str(root / "executed"), "--out", str(root / "html-student"),
                 "--student"]):
        done = subprocess.run([sys.executable, str(TOOL), *cmd], capture_output=True, text=True)
        assert done.returncode == 0, f"course_build {cmd[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return exe, root


def image_outputs(executed: Path) -> int:
    """Figures a page must show: every output carrying a PNG or JPEG."""
    nb = json.loads(executed.read_text())
    return sum(any(m in o.get("data", {}) for m in IMAGE_MIMES)
               for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))


def real_errors(errors: list[str]) -> list[str]:
    """Page errors other than the CDN's scripts failing to load without a network."""
    benign = ("Failed to load resource", "net::ERR_", "requirejs", "require is not defined",
              "Script error")
    return [e for e in errors if not any(b in e for b in benign)]


def test_the_index_links_every_notebook_in_order_with_synopsis_and_times(site):
    exe, root = site
    with browser.browser_page(exe) as page:
        page.goto((root / "html" / "index.html").as_uri())
        rows = page.locator("tbody tr")
        assert rows.count() == len(NOTEBOOKS)
        hrefs = [rows.nth(i).locator("a").get_attribute("href") for i in range(rows.count())]
        assert hrefs == [p.stem + ".html" for p in NOTEBOOKS]
        for i in range(rows.count()):
            cells = rows.nth(i).locator("td")
            assert len(cells.nth(2).inner_text().strip()) > 40, "the README's synopsis"
            assert cells.nth(3).inner_text().strip().endswith(("s", "min")), "a measured quick time"
        assert not real_errors(page.errors), page.errors


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_page_loads_and_shows_its_figures(site, nb):
    exe, root = site
    want = image_outputs(root / "executed" / nb.name)
    shots = browser.SHOTS / "html"
    shots.mkdir(parents=True, exist_ok=True)
    with browser.browser_page(exe) as page:
        page.goto((root / "html" / (nb.stem + ".html")).as_uri(), wait_until="load")
        title = json.loads(nb.read_text())["cells"][0]["source"][0].lstrip("# ").strip()
        assert page.locator("h1").first.inner_text().strip().rstrip("¶").strip() == title
        images = page.evaluate("""() => Array.from(document.images).map(
            i => ({ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth, h: i.naturalHeight}))""")
        shown = [i for i in images if i["ok"]]
        assert len(shown) >= want > 0, f"{nb.name}: {len(shown)} of {want} figures shown ({images})"
        assert all(i["w"] >= 16 and i["h"] >= 16 for i in shown)
        assert not real_errors(page.errors), page.errors
        page.screenshot(path=str(shots / f"{nb.stem}.png"))


def test_the_student_pages_leave_the_answers_out(site):
    import html as htmlmod
    sys.path.insert(0, str(ROOT / "tools"))
    import student
    _, root = site
    def text(path):          # the page's text: tags (syntax highlighting too) removed
        return htmlmod.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
    for nb in NOTEBOOKS:
        page = text(root / "html-student" / (nb.stem + ".html"))
        full = text(root / "html" / (nb.stem + ".html"))
        assert "correct." in full and "correct." not in page, nb.name
        assert student.CODE_STUB in page
        checked = 0
        nb_cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        elsewhere = {l.strip() for c in nb_cells if not student.is_solution(c)
                     for l in student.source(c).splitlines()}     # also in given cells
        for cell in nb_cells:
            if student.is_solution(cell) and cell["cell_type"] == "code":
                for line in student.source(cell).splitlines():
                    if (len(line.strip()) > 25 and not line.strip().startswith("#")
                            and line.strip() not in elsewhere):
                        assert line.strip() in full, (nb.name, line)      # the test can see it
                        assert line.strip() not in page, (nb.name, line)
                        checked += 1
        assert checked, nb.name
