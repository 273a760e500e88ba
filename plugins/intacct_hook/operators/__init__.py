"""Airflow operators: thin wrappers over the hooks and the sync domain."""
