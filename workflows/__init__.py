"""Workflow classes: orchestration only, deterministic (no I/O, clock or randomness)."""
