"""Divvy (BILL Spend & Expense v3) wire format: typed records, filters, posting rules, the
error family and the client-side rate limiter.

Nothing in this package imports Airflow; the hook in ``intacct_hook.hooks.divvy`` does the I/O.
"""
