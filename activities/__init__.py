"""Activities: one module per step (submission, history, sepa, analytics, reminders, notifications, audit, upkeep),
plus what they share (step.py: failures and the audit of an outcome; mailer.py: the SMTP client). Each activity is
idempotent and gets its clients at worker start."""
