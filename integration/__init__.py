"""Integration tests of the distributed mode: real processes, PostgreSQL and Redis."""
