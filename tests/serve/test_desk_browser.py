"""The desk driven as a support person does, in headless Chromium against the real server."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

REAL_LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "real"
LABELS_LOG = REAL_LOGS / "train_labels_255.log"  # nnUNetv2_train on a dataset whose labels are 0/255


def test_paste_a_log_see_the_causes_share_the_link_and_find_it_again(desk: Any, browser: Any) -> None:
    page = browser.new_page()
    page.goto(desk.url + "/")
    page.fill("#log", LABELS_LOG.read_text(encoding="utf-8"))
    page.click("#submit")
    page.wait_for_url("**/reports/*")
    diagnosis_id = page.inner_text("#diagnosis-id")
    assert page.url == f"{desk.url}/reports/{diagnosis_id}"
    # the ranked causes, in the project's HTML report shown in the page
    report = page.frame_locator("#report")
    first_row = report.locator("table tr").nth(1)
    assert "data.labels_unexpected" in first_row.inner_text()
    assert report.locator("#cause-1 h3").inner_text().startswith("1. ")
    assert "Most likely: data.labels_unexpected" in page.inner_text("main")

    # a colleague opens the link: the stored diagnosis, the same causes
    colleague = browser.new_page()
    colleague.goto(f"{desk.url}/reports/{diagnosis_id}")
    assert colleague.inner_text("#diagnosis-id") == diagnosis_id
    assert "data.labels_unexpected" in colleague.frame_locator("#report").locator("table tr").nth(1).inner_text()

    # and finds it again by its cause from the history page
    colleague.goto(desk.url + "/search")
    colleague.fill("#cause", "data.labels_unexpected")
    colleague.click("form.search button")
    colleague.wait_for_url("**/search?cause=data.labels_unexpected*")
    assert colleague.locator(f"table.diagnoses a[href='/reports/{diagnosis_id}']").count() == 1
    colleague.fill("#cause", "train.gpu_oom")
    colleague.click("form.search button")
    colleague.wait_for_url("**/search?cause=train.gpu_oom*")
    assert colleague.locator(f"a[href='/reports/{diagnosis_id}']").count() == 0
    colleague.goto(desk.url + "/search?limit=1")  # one page of the history at a time, newest first
    assert colleague.locator("table.diagnoses a[href^='/reports/']").count() == 1
    assert colleague.get_attribute("#older", "href") == "/search?limit=1&offset=1"
    page.close()
    colleague.close()


def test_drop_files_and_a_bad_upload_gets_an_error_page(desk: Any, browser: Any, tmp_path: Path) -> None:
    log = tmp_path / "console.log.gz"
    log.write_bytes(gzip.compress((REAL_LOGS / "plan_paths_unset.log").read_bytes()))
    checkpoint = tmp_path / "checkpoint_final.pth"
    checkpoint.write_bytes(b"PK\x03\x04" + bytes(4096))
    page = browser.new_page()
    page.goto(desk.url + "/")
    page.set_input_files("#files", [str(log)])
    page.click("#submit")
    page.wait_for_url("**/reports/*")
    assert "console.log" in page.inner_text("main")
    assert "env.paths_unset" in page.frame_locator("#report").locator("table tr").nth(1).inner_text()

    # a file dropped on the drop zone (as the browser delivers a drag from the file manager)
    page.goto(desk.url + "/")
    page.evaluate("""text => {
        const bag = new DataTransfer();
        bag.items.add(new File([text], "worker.log", {type: "text/plain"}));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: bag, bubbles: true, cancelable: true}));
    }""", (REAL_LOGS / "train_worker_killed.log").read_text(encoding="utf-8"))
    assert page.inner_text("#chosen") == "1 file(s) chosen"
    page.click("#submit")
    page.wait_for_url("**/reports/*")
    assert "worker.log" in page.inner_text("main")
    assert "sys.ram_exhausted" in page.frame_locator("#report").locator("table tr").nth(1).inner_text()

    page.goto(desk.url + "/")
    page.set_input_files("#files", [str(checkpoint)])
    page.click("#submit")
    page.wait_for_selector("#error-message")
    assert page.inner_text("#error-message") == \
        "checkpoint_final.pth: a binary file, not a log (nothing readable to diagnose)"
    assert "HTTP 415" in page.inner_text("main")
    page.goto(desk.url + "/trends?by=day")
    assert "env.paths_unset" in page.inner_text("table.trends")
    page.close()
