"""Audit dedupe keys keep the formats records were stored with: a changed key would let a retry append twice."""

from domain import audit_keys


def test_every_kind_of_key_keeps_its_stored_format() -> None:
    wf = "s.example:Payment Entry:P-1"
    assert audit_keys.verdict(wf) == "s.example:Payment Entry:P-1:verdict"
    assert audit_keys.step_completed(wf, "history:M-1") == "s.example:Payment Entry:P-1:history:M-1:completed"
    assert audit_keys.step_failed(wf, "sepa") == "s.example:Payment Entry:P-1:sepa:failed"
    assert audit_keys.run_event(wf, "run-1", "cancelled") == "s.example:Payment Entry:P-1:run-1:cancelled"
    assert (
        audit_keys.document_event("s.example", "Sales Invoice", "SI-1", "reminder_sent", 2)
        == "s.example:Sales Invoice:SI-1:reminder_sent:2"
    )
    assert audit_keys.cleanup("s.example", "t") == "cleanup:s.example:t"
