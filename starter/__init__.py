"""The client an ERP uses: submit documents, load reference data, read history and progress, follow jobs.

``DuesflowClient`` is async; ``BlockingDuesflowClient`` is its twin for synchronous callers such as Frappe hooks:
the same methods, signatures and results. Every failure a caller is meant to handle is one of the exceptions below
(or ``ValueError`` for a bad argument, ``PermissionError`` for a refusal): nobody needs to import temporalio.
"""

from config.settings import ConfigError
from deployment.encryption import EncryptionKeyMissing, PayloadTampered
from deployment.temporal_config import TemporalRefused
from domain.errors import (
    DuesflowError,
    JobCancelled,
    JobEnded,
    JobFailed,
    LedgerUnavailable,
    NotFound,
    ServiceUnavailable,
    TemporalUnavailable,
)
from domain.users import NotAllowed
from domain.verdicts import DocumentRejected
from starter.client import DuesflowClient
from starter.sync import BlockingDuesflowClient

__all__ = [
    "BlockingDuesflowClient",
    "ConfigError",
    "DocumentRejected",
    "DuesflowClient",
    "DuesflowError",
    "EncryptionKeyMissing",
    "JobCancelled",
    "JobEnded",
    "JobFailed",
    "LedgerUnavailable",
    "NotAllowed",
    "NotFound",
    "PayloadTampered",
    "ServiceUnavailable",
    "TemporalRefused",
    "TemporalUnavailable",
]
