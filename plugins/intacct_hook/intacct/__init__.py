"""Intacct XML Web Services wire format: request builders, response parser, errors.

No Airflow imports here: the hook owns transport, this package owns the XML.
"""
