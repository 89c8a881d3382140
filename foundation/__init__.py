"""
Foundation: what more than one app needs, written once.

`audits`, `errors` and `bugtracker` use it; it imports none of them. It holds the
`${VAR}` placeholders and their redaction, durations, locks, the API permission
and the dashboard-access rule, the config document framework (import and export of
`config.toml` and Periskop's YAML, handing each section to its app), the site-wide
middleware, the Dockerflow endpoints, the metrics view, and the way work leaves a
request (Celery, or the embedded pool and scheduler).
"""
