"""The ledger's tables (SQLAlchemy Core). Alembic migrations in ``ledger/migrations`` create them.

Every table carries ``site`` in its key: one ledger can serve several ERP sites. Money is NUMERIC(12,2).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MONEY = Numeric(12, 2)
NAME = String(140)


def _stamps() -> list[Column]:
    return [Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now())]


customers = Table(
    "customers",
    metadata,
    Column("site", NAME, nullable=False),
    Column("name", NAME, nullable=False),
    Column("customer_name", Text),
    *_stamps(),
    PrimaryKeyConstraint("site", "name"),
)

members = Table(
    "members",
    metadata,
    Column("site", NAME, nullable=False),
    Column("name", NAME, nullable=False),
    Column("customer", NAME),
    Column("full_name", Text),
    Column("email", Text),
    Column("status", String(20), nullable=False),
    Column("payment_method", String(40)),
    # Bumped by every history rebuild, in its transaction: the read cache's keys carry it, so a read after a
    # rebuild committed can never be served what was cached before it (whether or not Redis answered then).
    Column("history_version", BigInteger, nullable=False, server_default="0"),
    *_stamps(),
    PrimaryKeyConstraint("site", "name"),
    Index(None, "site", "customer"),
)

mandates = Table(
    "mandates",
    metadata,
    Column("site", NAME, nullable=False),
    Column("mandate_id", NAME, nullable=False),
    Column("member", NAME, nullable=False),
    Column("account_holder_name", Text),
    Column("iban", String(34), nullable=False),
    Column("bic", String(11)),
    Column("sign_date", Date, nullable=False),
    Column("expiry_date", Date),
    Column("status", String(20), nullable=False),
    Column("frequency", String(40)),
    Column("maximum_amount", MONEY),
    Column("last_collection_date", Date),
    Column("sequence_state", String(8), nullable=False, server_default="FRST"),
    *_stamps(),
    PrimaryKeyConstraint("site", "mandate_id"),
    Index(None, "site", "member"),
)

mandate_usages = Table(
    "mandate_usages",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("site", NAME, nullable=False),
    Column("mandate_id", NAME, nullable=False),
    Column("invoice", NAME, nullable=False),
    Column("payment_entry", NAME, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("sequence_type", String(4), nullable=False),
    Column("status", String(12), nullable=False),
    Column("collection_date", Date),
    Column("batch_reference", NAME),
    Column("return_reason", String(8)),
    # The return payment that marked this usage Returned (migration 0002): cancelling the return restores it.
    Column("returned_by", NAME),
    *_stamps(),
    UniqueConstraint("site", "mandate_id", "invoice", "payment_entry"),
    ForeignKeyConstraint(["site", "mandate_id"], ["mandates.site", "mandates.mandate_id"]),
    Index(None, "site", "invoice"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("site", NAME, nullable=False),
    Column("name", NAME, nullable=False),
    Column("customer", NAME, nullable=False),
    Column("member", NAME),
    Column("posting_date", Date, nullable=False),
    Column("due_date", Date),
    Column("grand_total", MONEY, nullable=False),
    Column("rounded_total", MONEY),
    Column("docstatus", SmallInteger, nullable=False),
    Column("erp_status", String(40)),
    Column("is_return", Boolean, nullable=False, server_default="false"),
    Column("return_against", NAME),
    Column("membership", NAME),
    Column("coverage_start", Date),
    Column("coverage_end", Date),
    *_stamps(),
    PrimaryKeyConstraint("site", "name"),
    # History: "20 newest invoices of the customer" is an index range scan.
    Index(None, "site", "customer", "posting_date"),
    Index(None, "site", "return_against"),
)

invoice_items = Table(
    "invoice_items",
    metadata,
    Column("site", NAME, nullable=False),
    Column("invoice", NAME, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("item_code", NAME),
    Column("item_name", Text),
    Column("qty", Numeric(12, 3), nullable=False),
    Column("rate", MONEY, nullable=False),
    Column("amount", MONEY, nullable=False),
    PrimaryKeyConstraint("site", "invoice", "idx"),
    ForeignKeyConstraint(["site", "invoice"], ["invoices.site", "invoices.name"], ondelete="CASCADE"),
)

payments = Table(
    "payments",
    metadata,
    Column("site", NAME, nullable=False),
    Column("name", NAME, nullable=False),
    Column("payment_type", String(20), nullable=False),
    Column("party_type", String(40)),
    Column("party", NAME),
    Column("posting_date", Date, nullable=False),
    Column("mode_of_payment", String(60)),
    Column("paid_amount", MONEY, nullable=False),
    Column("received_amount", MONEY),
    Column("reference_no", NAME),
    Column("reference_date", Date),
    Column("sepa_batch", NAME),
    Column("return_reason", String(8)),
    Column("docstatus", SmallInteger, nullable=False),
    *_stamps(),
    PrimaryKeyConstraint("site", "name"),
    Index(None, "site", "party", "posting_date"),
)

payment_allocations = Table(
    "payment_allocations",
    metadata,
    Column("site", NAME, nullable=False),
    Column("payment", NAME, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("reference_doctype", String(60), nullable=False),
    Column("reference_name", NAME, nullable=False),
    Column("allocated_amount", MONEY, nullable=False),
    PrimaryKeyConstraint("site", "payment", "idx"),
    ForeignKeyConstraint(["site", "payment"], ["payments.site", "payments.name"], ondelete="CASCADE"),
    Index(None, "site", "reference_name"),
)

audit_records = Table(
    "audit_records",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", NAME, nullable=False),
    Column("site", NAME, nullable=False),
    Column("doctype", String(60), nullable=False),
    Column("name", NAME, nullable=False),
    Column("event", String(40), nullable=False),
    Column("step", String(60)),
    Column("severity", String(10), nullable=False, server_default="info"),
    Column("amount", MONEY),
    Column("mode_of_payment", String(60)),
    Column("outcome", Text),
    Column("details", JSONB, nullable=False, server_default="{}"),
    Column("workflow_id", Text),
    Column("run_id", String(64)),
    # Retries and replays write the same key again: ON CONFLICT DO NOTHING keeps the trail append-once.
    Column("dedupe_key", Text, nullable=False),
    UniqueConstraint("dedupe_key"),
    Index(None, "site", "doctype", "name", "at"),
)

member_history = Table(
    "member_history",
    metadata,
    Column("site", NAME, nullable=False),
    Column("member", NAME, nullable=False),
    Column("position", Integer, nullable=False),
    Column("transaction_type", String(40), nullable=False),
    Column("invoice", NAME),
    Column("posting_date", Date, nullable=False),
    Column("due_date", Date),
    Column("coverage_start", Date),
    Column("coverage_end", Date),
    Column("amount", MONEY, nullable=False),
    Column("outstanding_amount", MONEY, nullable=False),
    Column("paid_amount", MONEY, nullable=False),
    Column("payment_status", String(20), nullable=False),
    Column("payment_entry", NAME),
    Column("payment_date", Date),
    Column("payment_method", String(60)),
    Column("reconciled", Boolean, nullable=False),
    Column("has_mandate", Boolean, nullable=False),
    Column("mandate_reference", NAME),
    PrimaryKeyConstraint("site", "member", "position"),
)

payment_facts = Table(
    "payment_facts",
    metadata,
    Column("site", NAME, nullable=False),
    Column("payment", NAME, nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("mode_of_payment", String(60), nullable=False),
    Column("customer", NAME, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("site", "payment"),
    Index(None, "site", "posting_date"),
    Index(None, "site", "customer"),
)

# --- Reminders, SEPA return decisions, upkeep (migration 0002) ---

dunning_cases = Table(
    "dunning_cases",
    metadata,
    Column("site", NAME, nullable=False),
    Column("invoice", NAME, nullable=False),
    Column("member", NAME, nullable=False),
    Column("state", String(12), nullable=False),
    Column("levels_sent", SmallInteger, nullable=False, server_default="0"),
    Column("next_level", SmallInteger),
    Column("next_due", DateTime(timezone=True)),
    Column("workflow_id", Text),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("closed_at", DateTime(timezone=True)),
    *_stamps(),
    PrimaryKeyConstraint("site", "invoice"),
    Index(None, "site", "state"),
)

# One row per (invoice, level): the primary key is what makes a reminder go out once.
reminder_messages = Table(
    "reminder_messages",
    metadata,
    Column("site", NAME, nullable=False),
    Column("invoice", NAME, nullable=False),
    Column("level", SmallInteger, nullable=False),
    Column("member", NAME, nullable=False),
    Column("recipient", Text),
    Column("language", String(2), nullable=False),
    Column("subject", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("outcome", String(12), nullable=False),  # sent | no_address
    Column("amount", MONEY, nullable=False),
    Column("days_overdue", Integer, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("site", "invoice", "level"),
)

# One decision per (return payment, invoice): retry (with its due date), stop, manual or escalate.
collection_retries = Table(
    "collection_retries",
    metadata,
    Column("site", NAME, nullable=False),
    Column("return_payment", NAME, nullable=False),
    Column("invoice", NAME, nullable=False),
    Column("mandate_id", NAME),
    Column("reason_code", String(8), nullable=False),
    Column("decision", String(10), nullable=False),
    Column("attempt", SmallInteger),
    Column("due_date", Date),
    Column("status", String(12), nullable=False),  # scheduled | collected | cancelled | open
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    *_stamps(),
    PrimaryKeyConstraint("site", "return_payment", "invoice"),
    Index(None, "site", "invoice"),
    Index(None, "site", "status", "due_date"),
)

# A warning goes out once per mandate and expiry date (bug B15 re-sent it daily; docs/business-rules.md §4).
mandate_warnings = Table(
    "mandate_warnings",
    metadata,
    Column("site", NAME, nullable=False),
    Column("mandate_id", NAME, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("expiry_date", Date, nullable=False),
    Column("warned_on", Date, nullable=False),
    PrimaryKeyConstraint("site", "mandate_id", "kind", "expiry_date"),
)

payment_monthly_summaries = Table(
    "payment_monthly_summaries",
    metadata,
    Column("site", NAME, nullable=False),
    Column("month", Date, nullable=False),
    Column("mode_of_payment", String(60), nullable=False),
    Column("customer", NAME, nullable=False),
    Column("count", Integer, nullable=False),
    Column("total", MONEY, nullable=False),
    Column("last_posting_date", Date, nullable=False),
    PrimaryKeyConstraint("site", "month", "mode_of_payment", "customer"),
    Index(None, "site", "customer"),
)

# Per site: detail facts posted before ``before`` have been rolled up (a late cancellation must then correct the
# summary instead of a fact).
analytics_rollups = Table(
    "analytics_rollups",
    metadata,
    Column("site", NAME, nullable=False),
    Column("before", Date, nullable=False),
    *_stamps(),
    PrimaryKeyConstraint("site"),
)


# --- Notifications to the submitting user (migration 0003) ---

# One per (workflow run): a retry (reset) is a new run and notifies again; a retried notify step does not.
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("site", NAME, nullable=False),
    Column("user_name", NAME, nullable=False),
    Column("workflow_id", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("doctype", String(60), nullable=False),
    Column("name", NAME, nullable=False),
    Column("kind", String(12), nullable=False),  # completed | failed | rejected | cancelled
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
    UniqueConstraint("site", "workflow_id", "run_id"),
    Index(None, "site", "user_name", "created_at"),
)
