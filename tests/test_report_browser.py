"""The HTML report in a real headless Chromium (Debian's package, driven by Playwright): the charts of a real
training log are drawn, every copy button copies its fix, and the page requests nothing from the network.

Chromium comes from the system (``apt-get install chromium``; ``.ci/run`` installs it); Playwright never
downloads a browser here. Without it the tests are skipped, unless ``NNUNET_DOCTOR_REQUIRE_BROWSER=1`` (CI)
makes that a failure.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis
from nnunet_doctor.report import build_report, render

REPO = Path(__file__).resolve().parents[1]
CURVES = (REPO / "tests" / "fixtures" / "logs" / "curves" / "Dataset001_Tiny"
          / "nnUNetTrainer_40epochs_tiny__nnUNetPlans__3d_fullres")
CHROMIUM = os.environ.get("NNUNET_DOCTOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser_or_skip() -> Any:
    required = os.environ.get("NNUNET_DOCTOR_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        if required:
            pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    return sync_playwright


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return build_report(run_diagnosis(DiagnosisRequest(logs=[str(CURVES / "fold_0"), str(CURVES / "fold_1")],
                                                       offline=True)))


@pytest.fixture(scope="module")
def page(report: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[str], Path]]:
    sync_playwright = _browser_or_skip()
    folder = tmp_path_factory.mktemp("html")
    path = folder / "report.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        tab = context.new_page()
        tab.on("request", lambda request: requests.append(request.url))
        tab.goto(path.as_uri())
        tab.wait_for_load_state("networkidle")
        yield tab, requests, path
        browser.close()


def test_the_page_requests_nothing_but_itself(page: tuple[Any, list[str], Path]) -> None:
    tab, requests, path = page
    assert requests == [path.as_uri()]


def test_the_charts_of_a_real_training_log_are_drawn(page: tuple[Any, list[str], Path],
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    tab, _, _ = page
    charts = tab.locator("figure.chart svg")
    assert charts.count() == 2  # one per fold
    for index in range(2):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 500 and box["height"] > 350
        # the curves are drawn lines (matplotlib paths), the axes are labelled in text
        assert charts.nth(index).locator("path").count() > 20
        labels = charts.nth(index).text_content() or ""
        assert "pseudo Dice" in labels and "epoch" in labels and "learning rate" in labels
    shot = tmp_path_factory.mktemp("screenshot") / "report.png"
    tab.locator("#training").scroll_into_view_if_needed()
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    if os.environ.get("NNUNET_DOCTOR_SCREENSHOT"):
        shutil.copy(shot, os.environ["NNUNET_DOCTOR_SCREENSHOT"])


def test_every_copy_button_copies_its_fix(page: tuple[Any, list[str], Path], report: dict[str, Any]) -> None:
    tab, _, _ = page
    buttons = tab.locator("button.copy")
    assert buttons.count() == len(report["causes"]) > 0
    for index, cause in enumerate(report["causes"]):
        buttons.nth(index).click()
        assert tab.evaluate("navigator.clipboard.readText()") == cause["fix"]
        assert buttons.nth(index).inner_text() == "Copied"


def test_the_summary_comes_first_and_the_page_prints(page: tuple[Any, list[str], Path]) -> None:
    tab, _, _ = page
    order = tab.evaluate("Array.from(document.querySelectorAll('h1, h2, section.summary')).map(e => e.id || e.textContent)")
    assert order[:2] == ["nnunet-doctor report", "summary"]
    assert order.index("Checklist") < order.index("training") < order.index("Versions")
    assert len(tab.pdf()) > 10_000  # printable (Chromium's print to PDF)
