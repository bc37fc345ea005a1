"""The client an ERP uses: submit documents, load reference data, read history and progress.

``DuesflowClient`` is async; ``BlockingDuesflowClient`` wraps it for synchronous callers such as Frappe hooks.
"""

from starter.client import DuesflowClient
from starter.sync import BlockingDuesflowClient

__all__ = ["BlockingDuesflowClient", "DuesflowClient"]
