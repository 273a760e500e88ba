-- Indexes on columns added after the first release (Ledger._ADDED_COLUMNS): run by
-- ensure_schema() after those columns exist, so an old ledger is upgraded in place.

-- Re-dated transactions (closed periods, sync/closed_periods.py) are few; reconcile and the load
-- find them by this index instead of reading every row.
CREATE INDEX IF NOT EXISTS divvy_transaction_original_date_idx
    ON divvy_transaction (original_posting_date)
    WHERE original_posting_date IS NOT NULL;
