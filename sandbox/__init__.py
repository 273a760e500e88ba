"""Strict local stand-ins for the Intacct XML gateway and the Divvy API (tests and the demo)."""
