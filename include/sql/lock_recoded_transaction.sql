-- Re-coding: the posted row a new link acts on, read again in the write transaction that opens
-- the link (recoding_open). Two recode tasks may have read the same candidate at their start;
-- the row lock (PostgreSQL; SQLite's write transaction is already exclusive) makes the second
-- wait, then see the record and version the first left, and open nothing.
SELECT intacct_record_no, updated_time
FROM divvy_transaction
WHERE uuid = :uuid AND state = 'posted'
FOR UPDATE -- postgresql only
