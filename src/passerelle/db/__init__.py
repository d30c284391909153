"""SQLAlchemy models, repositories implementing `core.ports`, and Alembic migrations."""
