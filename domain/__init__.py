"""Pure business rules and ERP contracts: no I/O here."""
