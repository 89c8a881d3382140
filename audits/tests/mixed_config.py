"""A config with checks and a service that the admin import and log tests share."""

ECHO = "audits.tests.checkmods.echo"

FILE = f"""
[checks.web.kept]
module = "{ECHO}"
params.url = "http://kept"

[checks.web.edited]
module = "{ECHO}"
params.url = "http://edited"
ttl = 120
tags = ["critical"]

[checks.web.new]
module = "{ECHO}"
params.url = "http://new"

[errors.services.api]
endpoint = "/errors"
"""
