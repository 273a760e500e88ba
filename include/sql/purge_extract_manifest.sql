-- Manifests are kept for the retention (a cleared reconcile can run again), then dropped.
DELETE FROM extract_manifest
WHERE extracted_at < :stale_before
