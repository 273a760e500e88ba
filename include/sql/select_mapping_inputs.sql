-- The next page of transactions the map step (re)evaluates (the states of
-- select_for_mapping.sql), in posting order after the last one read. The page is chosen on the
-- claim-order index alone (no row read); then the narrow map_input table gives each one's lines,
-- and the rest is read only where it is missing: the Divvy JSON (divvy_payload) of a row without
-- lines, the reason of a row not 'ready'. A ready row's reason is not read (that would mean
-- reading every row): a ready verdict leaves such a row as it is.
SELECT page.uuid, page.state, page.posting_date,
       CASE WHEN page.state = 'ready' THEN NULL ELSE t.state_reason END AS state_reason,
       m.lines AS map_input,
       CASE WHEN m.lines IS NULL THEN p.raw_payload END AS raw_payload
FROM (
    SELECT uuid, state, posting_date
    FROM divvy_transaction
    WHERE state IN ('ready', 'unmapped', 'failed')
      AND (posting_date, uuid) > (:after_date, :after_uuid)
    ORDER BY posting_date, uuid
    LIMIT :limit
) AS page
JOIN divvy_transaction AS t ON t.uuid = page.uuid
LEFT JOIN map_input AS m ON m.uuid = page.uuid
LEFT JOIN divvy_payload AS p ON p.uuid = page.uuid AND m.lines IS NULL
ORDER BY page.posting_date, page.uuid
