"""Divvy (BILL Spend & Expense v3) wire format: typed records, filters, posting rules. No Airflow here."""
