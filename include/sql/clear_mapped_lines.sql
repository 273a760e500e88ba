-- Forget the mapped lines of a transaction that is not (being) posted: they are recomputed.
DELETE FROM mapped_line
WHERE uuid = :uuid
  AND uuid IN (
      SELECT uuid FROM divvy_transaction WHERE state NOT IN ('posting', 'posted')
  )
