-- Re-coding (sync/recoding.py): the posted transactions this run's extract read again, with
-- what the ledger says was posted. Whether Divvy changed them (a later updatedTime, then the
-- coding, amount or date) is decided in Python from the landed payload.
SELECT l.uuid, l.payload, t.updated_time, t.posting_date, t.original_posting_date, t.amount,
       t.intacct_record_no, t.control_id
FROM divvy_landing l
JOIN divvy_transaction t ON t.uuid = l.uuid
WHERE l.run_id = :run_id
  AND t.state = 'posted'
  AND t.intacct_record_no IS NOT NULL
ORDER BY l.uuid
