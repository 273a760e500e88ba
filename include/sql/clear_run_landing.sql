-- An extract that runs again under the same run id (a retry, a cleared task) starts from an
-- empty landing of its own: it describes Divvy as it is now, so a transaction deleted in Divvy
-- since the earlier attempt is neither staged again nor expected by this run's reconcile.
-- Only this run's rows: runs may overlap.
DELETE FROM divvy_landing
WHERE run_id = :run_id
