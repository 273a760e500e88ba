-- Before a transaction is sent, Intacct was asked whether a record with its reference number
-- already exists on the card, and it does (a lost or restored ledger, a second deployment):
-- record it as posted instead of sending it again. Only rows nobody is sending are adopted.
UPDATE divvy_transaction
SET state = 'posted',
    state_reason = :reason,
    intacct_record_no = :record_no,
    last_error = NULL,
    posted_at = COALESCE(posted_at, :now),
    updated_at = :now
WHERE uuid = :uuid
  AND state IN ('ready', 'failed')
