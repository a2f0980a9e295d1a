"""Every page of a small demo report in a real browser (Debian's chromium through Playwright).

For each page, in English and Chinese, at 1366 px on screen and in A4 print emulation: no
table, figure or chart reaches past its container or the page, and a screenshot is written
to the test's temporary folder (``TELESALES_KEEP_SCREENSHOTS=/folder`` keeps a copy). A coaching
page prints on at most 3 A4 pages. Skips with the reason when Playwright or chromium is absent
(``make browser`` installs chromium and the CJK font; Playwright's own browser download is
never used).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from telesales_lab import report

pytestmark = pytest.mark.slow

MONTH = "2026-10"
#: A4 width minus the print margins of present/page_style.py (210 - 2 x 11 mm) at 96 px per inch.
PRINT_WIDTH = round((210 - 22) / 25.4 * 96)

_OVERFLOW_JS = """() => {
  const out = [];
  const page = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('table, img, svg, .tl-card')) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const parent = el.parentElement.getBoundingClientRect();
    if (r.right > page + 1 || r.right > parent.right + 1) {
      out.push(`${el.tagName} ${el.className && el.className.baseVal === undefined ? el.className : ''} `
               + `right ${Math.round(r.right)} > container ${Math.round(parent.right)} / page ${page}`);
    }
  }
  if (document.documentElement.scrollWidth > page + 1) out.push(`page scrolls: ${document.documentElement.scrollWidth} > ${page}`);
  return out;
}"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (run `make browser` as root: Debian's chromium and fonts-noto-cjk)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        except Exception as exc:  # a chromium that cannot start here
            pytest.skip(f"chromium at {executable} did not start: {exc}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from telesales_lab.data.demo import write_demo

    data = tmp_path_factory.mktemp("data") / "small"
    write_demo(data, n_teams=3, reps_per_team=6, n_customers=600, n_calls=6000, months=3)
    out = {}
    for lang in ("en", "zh"):
        folder = tmp_path_factory.mktemp(f"report-{lang}")
        out[lang] = report.run_report(data, MONTH, out=folder, lang=lang, progress=False)
    return out


def _pages(folder: Path) -> list[Path]:
    pages = [folder / "index.html"] + [folder / f"{Path(n).stem}.html" for n in report.NOTEBOOKS]
    packs = sorted((folder / "coaching").glob("*.html"))
    return [p for p in pages if p.is_file()] + packs[:2]


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_page_overflows_on_screen_or_on_a4(browser, reports, lang, tmp_path):
    folder = reports[lang]
    problems = []
    keep = os.environ.get("TELESALES_KEEP_SCREENSHOTS")
    for path in _pages(folder):
        for mode, width in (("screen", 1366), ("print", PRINT_WIDTH)):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.emulate_media(media=mode)
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            found = page.evaluate(_OVERFLOW_JS)
            problems += [f"{path.name} [{mode}] {f}" for f in found]
            shot = tmp_path / f"{lang}-{path.parent.name}-{path.stem}-{mode}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
            if keep:
                shutil.copy(shot, Path(keep) / shot.name)
            if mode == "print" and path.parent.name == "coaching":
                pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
                n = _pdf_pages(pdf)
                assert 1 <= n <= 3, f"{path.name} prints on {n} A4 pages"
            page.close()
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_has_a_back_link_and_contents(reports, lang):
    folder = reports[lang]
    for path in _pages(folder):
        if path.name == "index.html":
            continue
        text = path.read_text(encoding="utf-8")
        assert 'class="tl-nav"' in text and "index.html" in text, path.name
        assert "@page" in text and "@media print" in text, path.name
