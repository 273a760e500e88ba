"""Intacct XML Web Services: the wire format (request builders, response parser, errors) and
what is built on it without I/O of its own (the exactly-once writer, the setup records).

No Airflow imports here: the hook owns transport and sessions, this package owns the rest.
"""
