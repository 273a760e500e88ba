-- With clear_run_landing.sql: the postable transactions an earlier attempt of this run's extract
-- noted are forgotten before the extract notes them again.
DELETE FROM extract_manifest
WHERE run_id = :run_id
