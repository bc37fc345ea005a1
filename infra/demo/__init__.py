"""Deterministic generator of a realistic demo association, in ERPNext ``doc.as_dict()`` shape.

Pure Python: no I/O, no database, no clock. Everything random comes from one ``random.Random(seed)``, so the same
arguments always give identical output. The documents look like the fixtures in ``tests/fixtures/erpnext`` and follow
``docs/business-rules.md`` §9:

- dues plans per member: monthly €15 (billed on the 1st), quarterly €9 (billed on the 1st of each calendar quarter),
  annual €30 (billed on the membership anniversary); a member who joins inside the window gets a first dues invoice on
  the joining day; some extra-contribution invoices of €25–150 (whole euros or .50) without a membership;
- ~10% of customers are families (one customer, two members, at most one mandate, held by the first member);
- mandates for customers covering 75% of the members (Active, checksum-valid Dutch IBANs from ABNA/INGB/RABO);
- one unreconciled payment (no references, ``GIFT-…``) for 30% of the members, posted on the member's customer;
- payer profiles paying on time 95% / 80% / 60% / 40% of the time; each dues/extra invoice is paid on time, paid late
  or left unpaid, a few bank transfers are partial. Payments never lie after ``today``, so recent invoices may still
  be open simply because they are not due yet.

Every event date (``posting_date``, ``reference_date``, ``sign_date``, ``member_since``, ``creation``, ``modified``)
is ≤ ``today``. Forward-looking dates — an invoice's ``due_date`` (posting + 30 days) and ``custom_coverage_end_date``
— may lie after ``today``, as they do in a live ERP.

Modules, in the order ``generate`` uses them:

- ``parameters``: the association's fixed figures (accounts, plans, shares, payer profiles);
- ``model``: the internal records the steps fill in, and the invoice window;
- ``draws``: the one random source and the register of values already handed out;
- ``names`` / ``ibans``: people's names and e-mail addresses, Dutch bank accounts;
- ``people``: customers, members and their mandates; ``invoices``; ``payments``;
- ``documents``: the records as ERPNext documents; ``association``: the result and ``generate``.

The local stack (``infra.stack``, the ``duesflow stack`` command) and the benchmark submit what this generates.
"""

from infra.demo.association import DemoAssociation, generate

__all__ = ["DemoAssociation", "generate"]
