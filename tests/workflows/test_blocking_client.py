"""The blocking client a Frappe hook uses, against the session's real dev server, PostgreSQL and Redis.

Its calls run in a worker thread here so that the session's event loop (which runs the workers) keeps going,
as it would in a separate worker process in production.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from temporalio.client import Client

from domain.settings import Settings
from starter.sync import BlockingDuesflowClient
from tests import builders as b


@pytest.mark.usefixtures("workers")
async def test_blocking_client_submits_and_reads(settings: Settings, temporal_client: Client, site: str) -> None:
    config = settings.model_copy(update={"temporal_address": temporal_client.service_client.config.target_host})

    def erp_hook() -> Any:
        with BlockingDuesflowClient(config) as client:
            client.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
            verdict = client.submit(b.invoice("INV-1", "C1", 30.0), site=site, user="treasurer@example.nl")
            result = client.wait(verdict.workflow_id)
            # What a "My submissions" page in the ERP would call.
            # Visibility follows a closed workflow asynchronously: poll it, bounded.
            deadline = time.monotonic() + 15
            while (jobs := client.jobs(site, "treasurer@example.nl"))[0].status != "Completed":
                assert time.monotonic() < deadline, jobs
                time.sleep(0.1)
            notes = client.notifications(site, "treasurer@example.nl")
            read = client.mark_notifications_read(site, "treasurer@example.nl", [n.id for n in notes])
            return verdict, result, client.member_history(site, "M1"), client.member_summary(site, "M1"), jobs, read

    verdict, result, history, summary, jobs, read = await asyncio.to_thread(erp_hook)
    assert [(j.workflow_id, j.status) for j in jobs] == [(verdict.workflow_id, "Completed")]
    assert read == 1
    assert verdict.status == "accepted" and [s.status for s in result.steps] == ["done"]
    assert [(r.invoice, r.amount) for r in history] == [("INV-1", 30)]
    assert (summary["total_invoices"], summary["total_outstanding"]) == (1, 30)
