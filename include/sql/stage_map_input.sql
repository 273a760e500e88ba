-- Keep what the map step reads of a transaction this stage call wrote (map_inputs.py). Only a
-- row stage_transaction.sql did write in this call (this run, this timestamp) gets it, so the
-- text always describes the payload the row holds; a row the upsert left alone (posting,
-- posted, unchanged) keeps its own. NULL: the map step computes it from the payload.
INSERT INTO map_input (uuid, lines)
SELECT uuid, :map_input
FROM divvy_transaction
WHERE uuid = :uuid
  AND last_run_id = :run_id
  AND updated_at = :now
ON CONFLICT (uuid) DO UPDATE SET lines = excluded.lines
