"""The ``workflow.patched()`` gates of code added after histories were recorded with the workflows of the time
(docs/decisions/0003-patched-gates-and-recorded-histories.md). A gate's id never changes and is never reused."""

# Reminder flows: an invoice starts, signals or cancels its flow; a payment signals the flows it settles.
REMINDERS = "reminders"
# Job tracking (docs/business-rules.md §8): members and failed steps as search attributes, the submitter's
# notification, an audited cancellation.
JOB_TRACKING = "job-tracking"
