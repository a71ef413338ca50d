"""Storage: the declarative base, engines and sessions, bulk writes, the Alembic migrations.

The infrastructure every repository builds on; the only place outside repositories that
speaks SQL (a readiness ping, ``COPY``, migrations).
"""
