-- Re-coding: the ledger row now describes the replacement Intacct holds (same transaction as
-- recoding_replaced). divvy_payload keeps the version first posted; recoding holds the others.
UPDATE divvy_transaction
SET amount = :amount, posting_date = :posting_date,
    original_posting_date = :original_posting_date, updated_time = :updated_time,
    transaction_type = :transaction_type, merchant = :merchant,
    intacct_record_no = :record_no, control_id = :control_id, last_error = NULL,
    last_run_id = :run_id, updated_at = :now, posted_at = :now
WHERE uuid = :uuid AND state = 'posted'
