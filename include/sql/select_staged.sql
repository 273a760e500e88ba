-- State and payload of the given transactions, so staging can tell new, changed and unchanged
-- rows apart. No row lock: a stage transaction is long, and a load's claim skips locked rows,
-- so a lock here would make a concurrent load skip rows it should post. The upsert's own
-- guards (stage_transaction.sql, clear_mapped_lines.sql) keep a row another run claims or
-- maps meanwhile safe.
SELECT t.uuid, t.state, p.raw_payload
FROM divvy_transaction AS t
LEFT JOIN divvy_payload AS p ON p.uuid = t.uuid
WHERE t.uuid IN :uuids
