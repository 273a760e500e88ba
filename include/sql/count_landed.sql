-- How many transactions this run's extract landed, by Divvy transactionType (rows landed by a
-- version that did not keep the type are counted apart: select_landed_untyped.sql).
SELECT transaction_type, COUNT(*) AS landed
FROM divvy_landing
WHERE run_id = :run_id
GROUP BY transaction_type
