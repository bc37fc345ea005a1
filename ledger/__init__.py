"""The ledger: PostgreSQL through SQLAlchemy 2 + psycopg 3, plus the Redis read cache."""
