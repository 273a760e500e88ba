-- The next page of transactions the map step (re)evaluates (the states of
-- select_for_mapping.sql), in posting order after the last one read. The page is chosen on the
-- claim-order index alone (no row read); then the narrow map_input table gives each one's lines,
-- and the rest is read only for what is missing: the Divvy JSON (divvy_payload) of a row without
-- lines, the reason of a row not 'ready' (each a lookup of its own, so a ready row with lines
-- reads neither). A ready row's reason is not read: a ready verdict leaves such a row as it is.
SELECT page.uuid, page.state, page.posting_date,
       CASE WHEN page.state <> 'ready' THEN (
           SELECT t.state_reason FROM divvy_transaction AS t WHERE t.uuid = page.uuid
       ) END AS state_reason,
       m.lines AS map_input,
       CASE WHEN m.lines IS NULL THEN (
           SELECT p.raw_payload FROM divvy_payload AS p WHERE p.uuid = page.uuid
       ) END AS raw_payload
FROM (
    -- One ordered walk of the claim-order index per state, merged: "state IN (…)" had the
    -- database sort every remaining re-mappable row of the ledger for each page.
    SELECT uuid, state, posting_date
    FROM divvy_transaction
    WHERE state = 'ready' AND (posting_date, uuid) > (:after_date, :after_uuid)
    UNION ALL
    SELECT uuid, state, posting_date
    FROM divvy_transaction
    WHERE state = 'unmapped' AND (posting_date, uuid) > (:after_date, :after_uuid)
    UNION ALL
    SELECT uuid, state, posting_date
    FROM divvy_transaction
    WHERE state = 'failed' AND (posting_date, uuid) > (:after_date, :after_uuid)
    ORDER BY posting_date, uuid
    LIMIT :limit
) AS page
LEFT JOIN map_input AS m ON m.uuid = page.uuid
ORDER BY page.posting_date, page.uuid
