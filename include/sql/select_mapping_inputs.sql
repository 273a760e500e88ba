-- The next page of transactions the map step (re)evaluates (the states of
-- select_for_mapping.sql), in posting order after the last one read. Reads the narrow
-- map_input table; the Divvy JSON only for a row without one. The reason of a 'ready' row is
-- not read (it would mean reading every wide row): a ready verdict leaves such a row as it is.
SELECT t.uuid, t.state, t.posting_date,
       CASE WHEN t.state = 'ready' THEN NULL ELSE t.state_reason END AS state_reason,
       m.lines AS map_input,
       CASE WHEN m.lines IS NULL THEN t.raw_payload END AS raw_payload
FROM divvy_transaction AS t
LEFT JOIN map_input AS m ON m.uuid = t.uuid
WHERE t.state IN ('ready', 'unmapped', 'failed')
  AND (t.posting_date, t.uuid) > (:after_date, :after_uuid)
ORDER BY t.posting_date, t.uuid
LIMIT :limit
