-- Re-coding (sync/recoding.py): the posted transactions this run's extract read again and whose
-- Divvy JSON is neither the text the ledger holds nor the last one this step examined
-- (recode_examined), with what the ledger says was posted. Stage
-- stores the landed text as divvy_payload.raw_payload unchanged, so an equal text is the same
-- version and is never decoded (a window's posted rows are mostly unchanged). Whether Divvy changed one (a
-- later updatedTime, then the coding, amount or date) is decided in Python from the payload.
SELECT l.uuid, l.payload, t.updated_time, t.posting_date, t.original_posting_date, t.amount,
       t.intacct_record_no, t.control_id
FROM divvy_landing l
JOIN divvy_transaction t ON t.uuid = l.uuid
LEFT JOIN divvy_payload p ON p.uuid = t.uuid
WHERE l.run_id = :run_id
  AND t.state = 'posted'
  AND t.intacct_record_no IS NOT NULL
  AND l.payload <> COALESCE(p.raw_payload, '')
  AND (p.examined_payload IS NULL OR l.payload <> p.examined_payload)
ORDER BY l.uuid
