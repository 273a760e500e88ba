-- Everything the extract step of this run landed, in a stable order.
SELECT uuid, payload
FROM divvy_landing
WHERE run_id = :run_id
ORDER BY uuid
