"""`make demo`: the daily sync over a realistic week, against the two local sandboxes.

Run with ``python -m demo`` (``--help`` for the options). See :mod:`demo.__main__`.
"""
