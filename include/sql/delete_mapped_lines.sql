-- The map step replaces the lines of transactions lock_for_mapping.sql found re-mappable (and
-- holds, in the same transaction) whose new lines differ from the ones they hold
-- (select_lines_for_remap.sql): their old lines go, in one statement per 1,000.
DELETE FROM mapped_line
WHERE uuid IN :uuids
