"""Divvy (BILL Spend & Expense v3) wire format: typed records, filters, posting rules.

Nothing in this package imports Airflow; the hook in ``intacct_hook.hooks.divvy`` does the I/O.
"""
