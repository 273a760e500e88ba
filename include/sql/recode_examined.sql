-- Re-coding: the landed Divvy text of a posted transaction this step has looked at (issue 13). A
-- later landing of the same text is no candidate again (select_recode_candidates), so a row Divvy
-- touched after posting is decoded once per version, not on every run. raw_payload keeps the
-- version first posted (the chain's start); this is only the last version examined.
UPDATE divvy_payload
SET examined_payload = :payload
WHERE uuid = :uuid
