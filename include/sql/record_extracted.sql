-- One postable transaction this run's extract read from Divvy (see extract_manifest in
-- schema.sql); a retried extract overwrites its row.
INSERT INTO extract_manifest (run_id, uuid, posting_date, amount, extracted_at)
VALUES (:run_id, :uuid, :posting_date, :amount, :now)
ON CONFLICT (run_id, uuid) DO UPDATE SET
    posting_date = excluded.posting_date,
    amount       = excluded.amount,
    extracted_at = excluded.extracted_at
