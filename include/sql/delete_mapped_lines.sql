-- The map step replaces the lines of transactions lock_for_mapping.sql found re-mappable (and
-- holds, in the same transaction): their old lines go, in one statement per page.
DELETE FROM mapped_line
WHERE uuid IN :uuids
