"""
Foundation: what more than one app needs, written once.

`audits`, `errors` and `bugtracker` use it; it imports none of them. It holds the
`${VAR}` placeholders and their redaction (`placeholders`), the duration grammar
(`durations`), the lock (`locks`), the API permission and the dashboard-access rule
(`access`), the admin's read-only inline (`admin_inlines`), the config document
framework and its one `ConfigError` (`config`: import and export of `config.toml`
and Periskop's YAML, handing each section to its app), the site-wide middleware,
the Dockerflow endpoints, the metrics view, and the way work leaves a request
(Celery, or the embedded pool and scheduler).
"""
