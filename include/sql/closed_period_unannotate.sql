-- Closed periods: the re-dating was undone, so the purchase-date note goes from the descriptions.
UPDATE mapped_line
SET description = SUBSTR(description, :prefix_length + 1)
WHERE uuid = :uuid
  AND SUBSTR(description, 1, :prefix_length) = :prefix
