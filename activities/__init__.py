"""Activities: one module per step (submission, history, sepa, analytics, reminders, notifications, audit, upkeep),
plus what they share (step.py: the audit of an outcome; failures.py: what a failed attempt becomes in Temporal and
the log, applied by the worker to every activity; mailer.py: the SMTP client). Each activity is idempotent and gets
its clients at worker start."""
