-- Closed periods: one refused transaction's state and dates, read in the write transaction that
-- holds or re-dates it (intacct_hook/sync/closed_periods.py).
SELECT state, posting_date, original_posting_date
FROM divvy_transaction
WHERE uuid = :uuid
