"""IBAN and BIC in their compact upper-case form

Mandates imported before the contract normalised them may hold the printed form (groups of four with spaces, any
case). The data is rewritten once; the downgrade keeps it compact (the printed form was never meaningful).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # \s covers the spaces and tabs a printed IBAN may carry; only rows that differ are touched.
    op.execute(
        r"""
        UPDATE mandates
           SET iban = upper(regexp_replace(iban, '\s', '', 'g')),
               bic = nullif(upper(regexp_replace(bic, '\s', '', 'g')), '')
         WHERE iban <> upper(regexp_replace(iban, '\s', '', 'g'))
            OR bic IS DISTINCT FROM nullif(upper(regexp_replace(bic, '\s', '', 'g')), '')
        """
    )


def downgrade() -> None:
    pass
