-- What the ledger knows of the receipts of the given transactions.
SELECT uuid, receipt_uuid, filename, supdoc_id, state, message, attempts, updated_at, attached_at
FROM receipt_attachment
WHERE uuid IN :uuids
ORDER BY uuid, receipt_uuid
