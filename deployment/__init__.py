"""What the worker and the callers share to reach this deployment's Temporal: the connection (``connection.py``) and
the upkeep schedules it runs (``schedules.py``). Below both: it imports neither the worker nor ``starter``."""
