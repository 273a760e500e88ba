-- Before a transaction is sent, Intacct was asked whether its reference number is already on
-- any card, and it is on another card than this account's: the Divvy account moved to a new
-- card with a new ledger, or two accounts read the same Divvy account. It is held with the
-- reason (which names the card and record) and never sent a second time; stage makes it ready
-- again on the next run, and this lookup holds it again. Only rows nobody is sending.
UPDATE divvy_transaction
SET state = 'held',
    state_reason = :reason,
    updated_at = :now
WHERE uuid = :uuid
  AND state IN ('ready', 'failed')
