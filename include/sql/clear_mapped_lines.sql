-- Forget the mapped lines of a transaction that is not (being) posted: they are recomputed.
-- The state is looked up by uuid: an uncorrelated "uuid IN (SELECT … WHERE state …)" read every
-- transaction of the ledger per call (a page of 5,000 re-mapped rows took minutes).
DELETE FROM mapped_line
WHERE uuid = :uuid
  AND EXISTS (
      SELECT 1 FROM divvy_transaction
      WHERE divvy_transaction.uuid = :uuid AND divvy_transaction.state NOT IN ('posting', 'posted')
  )
