-- Posting date, state and amount of every transaction dated in [date_from, date_to]; the
-- counts and exact totals are summed in Python (amounts are decimal text, see schema.sql).
SELECT posting_date, state, amount
FROM divvy_transaction
WHERE posting_date >= :date_from
  AND posting_date <= :date_to
