-- Drop one finished run's landed payloads (its reconcile has counted them), and those of any run
-- that landed them before stale_before and never finished (abandoned). Another run's recent
-- landing is never touched: runs may overlap.
DELETE FROM divvy_landing
WHERE run_id = :run_id
   OR extracted_at < :stale_before
