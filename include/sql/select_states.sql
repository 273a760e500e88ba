-- Current state of the given transactions (to tell inserts from updates when staging).
SELECT uuid, state
FROM divvy_transaction
WHERE uuid IN :uuids
