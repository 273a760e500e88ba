-- The reference numbers (uuids) and dates of the ready transactions: what the load step asks
-- Intacct about before sending anything (the adopt lookup). Only the two columns it needs.
SELECT uuid, posting_date
FROM divvy_transaction
WHERE state = 'ready'
ORDER BY posting_date, uuid
