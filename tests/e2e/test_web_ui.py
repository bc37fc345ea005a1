"""What an operator sees: the real Temporal Web UI of the session's dev server, in headless Debian chromium.

Filtered by site and document, the workflow list shows the document's workflow; opening it from the list (as a user
would) and its "User Metadata" tab shows the summary duesflow set (starter.submission_start.summary_of). The list
itself has no summary column in UI 2.54, and the workflow page's header does not show it either."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import Page, async_playwright, expect

from domain.parsing import parse_submission
from starter.client import DuesflowClient
from starter.submission_start import summary_of
from tests.conftest import load_fixture
from tests.polling import eventually

USER = "penningmeester@groenevereniging.nl"
TIMEOUT_MS = 20_000


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "The Web UI test needs Debian's chromium on PATH (apt-get install chromium); "
            "playwright's own browser download is not used."
        )
    return path


async def until_visible(duesflow: DuesflowClient, query: str) -> None:
    """The UI list does not refresh by itself: open it only once visibility has the workflow."""
    listed = await eventually(
        lambda: duesflow.temporal.count_workflows(query), lambda c: c.count == 1, timeout=TIMEOUT_MS / 1000
    )
    assert listed.count == 1, f"visibility never listed one workflow for {query}"


async def check_list_and_summary(page: Page, list_url: str, workflow_id: str, run_id: str, summary: str) -> None:
    await page.goto(list_url)
    await expect(page.get_by_test_id("workflow-count")).to_have_text("1", timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("workflows-summary-configurable-table-row")).to_have_count(1)
    # The row has no summary: UI 2.54's workflow table has no summary column (not even among its optional ones).

    await page.get_by_role("link", name=workflow_id, exact=True).click()
    detail = f"/namespaces/default/workflows/{quote(workflow_id, safe='')}/{run_id}"
    await expect(page).to_have_url(re.compile(re.escape(detail) + "/timeline$"), timeout=TIMEOUT_MS)
    await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible(timeout=TIMEOUT_MS)

    await page.get_by_role("tab", name="User Metadata").click()
    await expect(page).to_have_url(re.compile(re.escape(detail) + "/user-metadata$"), timeout=TIMEOUT_MS)
    await expect(page.get_by_role("heading", name="Summary", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    # The UI renders the summary as Markdown in an iframe of its own (/render?content=...).
    rendered = page.frame_locator("iframe#user-metadata-summary")
    await expect(rendered.get_by_text(summary, exact=True)).to_be_visible(timeout=TIMEOUT_MS)


async def test_web_ui_finds_the_document_and_shows_its_summary(
    duesflow: DuesflowClient, workers: Any, site: str, reference_docs, temporal_ui_url: str, tmp_path: Path
) -> None:
    executable = chromium_path()
    await duesflow.load_reference_data(reference_docs, site=site)
    invoice = load_fixture("sales_invoice_ACC-SINV-2025-00101.json")
    assert (await duesflow.submit(invoice, site=site, user=USER)).status == "accepted"
    payment = load_fixture("payment_entry_ACC-PAY-2025-00201.json")
    verdict = await duesflow.submit(payment, site=site, user=USER)
    assert verdict.status == "accepted", verdict.errors
    await asyncio.wait_for(duesflow.wait(verdict.workflow_id), timeout=60)
    run_id = (await duesflow.temporal.get_workflow_handle(verdict.workflow_id).describe()).run_id
    assert run_id
    summary = summary_of(parse_submission(payment, currency=duesflow.settings.currency))
    assert summary == "Payment Entry ACC-PAY-2025-00201 · €15.00 · SEPA Direct Debit"

    # Other tests submit the same fixture names under other sites: filter by both.
    query = f'DuesflowSite="{site}" AND DuesflowDocument="{payment["name"]}"'
    await until_visible(duesflow, query)
    list_url = f"{temporal_ui_url}/namespaces/default/workflows?query={quote(query, safe='')}"

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            try:
                await check_list_and_summary(page, list_url, verdict.workflow_id, run_id, summary)
            except BaseException:
                shot = tmp_path / "web-ui-failure.png"
                await page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of the failing page: {shot} ({page.url})")
                raise
        finally:
            await browser.close()
