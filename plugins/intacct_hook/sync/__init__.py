"""The sync's domain: settings, ledger, mapping, preflight, load, reconcile. Plain Python."""
