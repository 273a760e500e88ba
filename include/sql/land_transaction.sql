-- Land one extracted Divvy transaction for this run; a retried extract overwrites its row.
-- transaction_type is what extract's summary counts; staged is what extract decided for stage
-- (NULL: stage decides from the payload).
INSERT INTO divvy_landing (run_id, uuid, payload, transaction_type, staged, extracted_at)
VALUES (:run_id, :uuid, :payload, :transaction_type, :staged, :now)
ON CONFLICT (run_id, uuid) DO UPDATE SET
    payload          = excluded.payload,
    transaction_type = excluded.transaction_type,
    staged           = excluded.staged,
    extracted_at     = excluded.extracted_at
