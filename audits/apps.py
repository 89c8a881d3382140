"""Audits app configuration: hands the service's settings to the check modules."""

from django.apps import AppConfig
from django.conf import settings


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = "Audits"
    # import_config / export_config hand the [checks] section of config.toml to this.
    config_section = "checks"
    config_handler = "audits.config.section"

    def ready(self):
        # Registers the collector of each check's last result for /__metrics__.
        # Check modules never import Django; they get their settings from here.
        import checks.config
        from audits import metrics  # noqa: F401
        from audits.api import cached
        from audits.models import Check, Tag
        from foundation.middleware import register_cached_answers, register_public_reads
        from notifications.models import register_scope

        # Monitors poll these: no session, CSRF, user nor messages on their GETs.
        register_public_reads(
            r"/checks", r"/checks/[^/]+", r"/checks/[^/]+/[^/]+(?:/history)?", r"/uptime/.*"
        )
        # The cached result of a check: answered before anything else looks at it.
        register_cached_answers(
            r"/checks/(?P<project>[^/]+)/(?P<name>[^/]+)", "/checks/<str:project>/<str:name>",
            cached.answer,
        )

        # Maintenance windows name checks, tags and projects: these say which exist.
        register_scope("checks", Check.unknown_paths)
        register_scope("projects", Check.unknown_projects)
        register_scope("tags", Tag.unknown_names)

        checks.config.configure(
            timeout_seconds=settings.REQUESTS_TIMEOUT_SECONDS,
            connect_timeout_seconds=settings.REQUESTS_CONNECT_TIMEOUT_SECONDS,
            deadline_seconds=settings.REQUESTS_DEADLINE_SECONDS,
            max_response_bytes=settings.REQUESTS_MAX_RESPONSE_BYTES,
            max_retries=settings.REQUESTS_MAX_RETRIES,
            max_concurrency=settings.LIMIT_REQUEST_CONCURRENCY,
            default_headers=settings.DEFAULT_REQUEST_HEADERS,
            user_agent=settings.SERVICE_NAME,
            github_api_url=settings.GITHUB_API_URL,
            github_token=settings.GITHUB_TOKEN,
            curl_binary_path=settings.CURL_BINARY_PATH,
        )
