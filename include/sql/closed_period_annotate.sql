-- Closed periods: a re-dated transaction's line descriptions (the header description is line 1's)
-- start with its purchase date, once. The map step writes the lines afresh each run, so the load
-- adds it again before it claims anything.
UPDATE mapped_line
SET description = :prefix || COALESCE(description, '')
WHERE uuid = :uuid
  AND (description IS NULL OR SUBSTR(description, 1, :prefix_length) <> :prefix)
