-- Postable transactions one run's extract read from Divvy that its landing no longer holds
-- (lost between extract and stage), so stage fails rather than staging nothing.
SELECT m.uuid
FROM extract_manifest m
WHERE m.run_id = :run_id
  AND NOT EXISTS (
      SELECT 1 FROM divvy_landing l WHERE l.run_id = m.run_id AND l.uuid = m.uuid
  )
ORDER BY m.uuid
LIMIT :limit
