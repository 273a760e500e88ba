-- Re-coding: the supporting document a transaction's receipts are attached in (the newest: the
-- receipts step makes each new one hold every receipt so far). Its replacement names it too, so
-- a re-coded record keeps its receipts.
SELECT supdoc_id
FROM receipt_attachment
WHERE uuid = :uuid AND state = 'attached' AND supdoc_id IS NOT NULL
ORDER BY attached_at DESC, supdoc_id DESC
LIMIT 1
