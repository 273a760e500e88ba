-- Keep the Divvy JSON of a transaction this stage call wrote (stage_transaction.sql), in its own
-- table (schema.sql: divvy_payload). As with stage_map_input.sql, only a row the upsert did write
-- in this call (this run, this timestamp) gets it, so a row left alone (posting, posted,
-- unchanged) keeps the JSON it was posted from; the same text is not written again.
INSERT INTO divvy_payload (uuid, raw_payload)
SELECT uuid, :raw_payload
FROM divvy_transaction
WHERE uuid = :uuid
  AND last_run_id = :run_id
  AND updated_at = :now
ON CONFLICT (uuid) DO UPDATE SET raw_payload = excluded.raw_payload
WHERE divvy_payload.raw_payload <> excluded.raw_payload
