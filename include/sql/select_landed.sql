-- Everything the extract step of this run landed, in a stable order, with what extract
-- decided for stage (NULL: stage decides from the payload).
SELECT uuid, payload, staged
FROM divvy_landing
WHERE run_id = :run_id
ORDER BY uuid
