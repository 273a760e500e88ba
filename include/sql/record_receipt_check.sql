-- The receipts step asked Divvy about a transaction, which was at version updated_time.
INSERT INTO receipt_check (uuid, checked_at, updated_time)
VALUES (:uuid, :now, :updated_time)
ON CONFLICT (uuid) DO UPDATE SET
    checked_at = excluded.checked_at,
    updated_time = excluded.updated_time
