"""Divvy (BILL Spend & Expense) to Sage Intacct: Airflow hooks, operators and the sync's domain."""

__version__ = "0.1.0"
