"""
/api/docs/: the API's browsable documentation (Swagger UI), for anyone, with its
files served by this service from the vendored drf-spectacular-sidecar: nothing
from a CDN. The browser test (dashboard_tests/test_browser_api_docs.py) shows it
rendering the operations.
"""

import re

from django.contrib.staticfiles import finders


def test_api_docs_is_swagger_ui_reading_our_schema_with_local_files_only(client, db):
    # Anonymous: the documentation, like the schema, needs no login.
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert '"/api/schema/"' in page  # the schema it reads
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(s.endswith("swagger-ui-bundle.js") for s in sources), sources
    assert all(s.startswith("/static/") for s in sources), sources  # nothing from elsewhere
    assert "https://" not in page and "http://" not in page
    for source in sources:  # vendored: found by this install's static files
        assert finders.find(source.removeprefix("/static/")), source
