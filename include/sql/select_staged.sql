-- State and payload of the given transactions, so staging can tell new, changed and unchanged
-- rows apart. On PostgreSQL the rows stay locked until the stage commits: no other run can map
-- or claim one between this read and the upsert (the line is dropped on SQLite, whose
-- immediate transaction already holds the write lock).
SELECT uuid, state, raw_payload
FROM divvy_transaction
WHERE uuid IN :uuids
FOR UPDATE -- postgresql only
