"""One module per pipeline step. Each activity is idempotent and gets its clients at worker start."""
