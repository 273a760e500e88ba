"""Airflow hooks: they own connections, sessions and transport."""
