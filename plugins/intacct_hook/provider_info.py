"""Provider metadata: how Airflow learns the ``intacct`` and ``divvy`` connection types.

Airflow 3 reads connection types only from the ``apache_airflow_provider`` entry point; the
declarative ``conn-fields`` / ``ui-field-behaviour`` keys are read without importing the hooks.
"""

from __future__ import annotations

from typing import Any

from intacct_hook import __version__

_STRING = {"type": ["string", "null"]}
_SECRET = {"type": ["string", "null"], "format": "password"}


def _limit_fields(*, default_mb: int) -> dict[str, Any]:
    return {
        "max_request_seconds": {
            "label": "Longest time for one whole request, in seconds (default twice the timeout)",
            "schema": {"type": ["number", "null"]},
        },
        "max_response_mb": {
            "label": f"Largest answer read, in MB (default {default_mb})",
            "schema": {"type": ["number", "null"]},
        },
    }


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "divvy-intacct",
        "name": "Divvy to Sage Intacct",
        "description": "Hooks and operators for the Sage Intacct XML API and the Divvy "
        "(BILL Spend & Expense) API, and the daily sync between them.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "intacct",
                "hook-class-name": "intacct_hook.hooks.intacct.IntacctHook",
                "hook-name": "Sage Intacct",
                "ui-field-behaviour": {
                    "hidden-fields": ["port", "schema"],
                    "relabeling": {
                        "host": "Gateway URL",
                        "login": "Web Services user ID",
                        "password": "Web Services user password",
                    },
                    "placeholders": {
                        "host": "https://api.intacct.com/ia/xml/xmlgw.phtml",
                        "login": "Divvy",
                    },
                },
                "conn-fields": {
                    "company_id": {"label": "Company ID", "schema": _STRING},
                    "sender_id": {
                        "label": "Web Services sender ID",
                        "schema": _STRING,
                        "description": "Default bill.com (all lower case).",
                    },
                    "sender_password": {"label": "Sender password", "schema": _SECRET},
                    "entity_id": {
                        "label": "Entity ID (multi-entity companies only)",
                        "schema": _STRING,
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "schema": {"type": ["number", "null"]},
                    },
                    **_limit_fields(default_mb=100),
                },
            },
            {
                "connection-type": "divvy",
                "hook-class-name": "intacct_hook.hooks.divvy.DivvyHook",
                "hook-name": "Divvy (BILL Spend & Expense)",
                "ui-field-behaviour": {
                    "hidden-fields": ["port", "schema", "login"],
                    "relabeling": {"host": "API base URL", "password": "API token"},
                    "placeholders": {"host": "https://gateway.prod.bill.com/connect"},
                },
                "conn-fields": {
                    "auth_type": {
                        "label": "Authentication",
                        # A drop-down in the UI (an enum in conn-fields, as the smtp provider
                        # declares its auth_type); the values are DivvyHook's AUTH_TYPES, which
                        # refuses any other with the valid ones named.
                        "schema": {
                            "type": ["string", "null"],
                            "default": "api_token",
                            "enum": ["api_token", "oauth_client_credentials"],
                            "values_display": {
                                "api_token": "API token (in the API token field)",
                                "oauth_client_credentials": "OAuth client credentials "
                                "(client ID, client secret, token URL below)",
                            },
                        },
                        "description": "API token unless your BILL account uses OAuth clients.",
                    },
                    "client_id": {"label": "OAuth client ID", "schema": _STRING},
                    "client_secret": {"label": "OAuth client secret", "schema": _SECRET},
                    "token_url": {"label": "OAuth token URL", "schema": _STRING},
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "schema": {"type": ["number", "null"]},
                    },
                    "calls_per_minute": {
                        "label": "Client-side rate limit (calls per window, max 60)",
                        "schema": {"type": ["integer", "null"]},
                    },
                    "rate_limit_window": {
                        "label": "Rate-limit window in seconds (default 60; shorter only for a "
                        "local sandbox)",
                        "schema": {"type": ["number", "null"]},
                    },
                    "receipts_allow_loopback": {
                        "label": "Download receipt files from this machine (local sandbox only)",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    **_limit_fields(default_mb=10),
                },
            },
        ],
        "extra-links": [
            "intacct_hook.links.IntacctReconciliationLink",
            "intacct_hook.links.IntacctRecordsLink",
        ],
    }
