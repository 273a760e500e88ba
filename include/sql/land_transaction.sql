-- Land one extracted Divvy transaction for this run; a retried extract overwrites its row.
INSERT INTO divvy_landing (run_id, uuid, payload, extracted_at)
VALUES (:run_id, :uuid, :payload, :now)
ON CONFLICT (run_id, uuid) DO UPDATE SET
    payload      = excluded.payload,
    extracted_at = excluded.extracted_at
