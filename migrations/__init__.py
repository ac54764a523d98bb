"""The alembic migrations; shipped inside the wheel as `newsletter.migrations`."""
