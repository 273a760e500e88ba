"""Intacct XML Web Services wire format: request builders, response parser, errors. No Airflow here."""
