"""
Cached answers of `GET /checks/{project}/{name}`: a monitor polling a check whose
result is cached gets the bytes of the last answer, from one cache call, with no
query and nothing rendered.

When the view has rendered a JSON answer for a result stored in the cache,
`keep()` stores its body beside that result, under `answer:v1:<result key>`,
with the definitions version it was made from (`audits.definitions`) and the
result's `stored_at`. It is kept for ANSWER_SECONDS at most, and never past the
result's own expiry: the buglist and the history it holds change without a new
result (a bug synced, the history row a worker writes after the result).

`answer()` reads the definitions version, the result and the stored answer in
one `get_many`, and answers the stored bytes only when the three agree: no check
changed since (same version), and the very result the answer was made from is
still the cached one (same `stored_at`). Anything else goes the normal way: a
query string (`?refresh=`, URL parameters), `Accept: text/plain`, a check that is
not in this process's copy of the checks, a result not cached, the cache down.

A project's answer (`/checks/{project}`) and a tag's (`/checks/tags/{a}+{b}`) are
kept the same way, with the *generations* of their scope instead of the results:
the runner sets a new generation of a check's project and of each of its tags
whenever it stores a result (`audits.runner.generation_keys`). Such an answer is
kept only when every result in it was cached, until the first of them expires
(ANSWER_SECONDS at most), and answered while the generations are those read
before its results were.
"""

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

from audits import definitions, runner
from audits.api.negotiation import answers_json
from audits.models import DEFINITIONS_VERSION_KEY
from audits.runner import Job

# How long an answer's buglist and history may lag behind the database.
ANSWER_SECONDS = 10
KEPT_HEADERS = ("Content-Type", "Vary", "Allow")
CACHEABLE_STATUSES = (200, 503)
X_FRAME_OPTIONS = getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()  # as Django's middleware


def answer(request, project: str, name: str) -> HttpResponse | None:
    """The stored answer to `request` for check `project/name`, if still current."""
    if not _may_be_cached(request):
        return None
    known = definitions.loaded()
    check = known.check(project, name) if known else None
    job = runner.job_of(check) if check is not None and check.get_ttl() > 0 else None
    if not isinstance(job, Job):
        return None
    key = _key(job)
    try:
        found = cache.get_many([DEFINITIONS_VERSION_KEY, job.key, key])
    except Exception:  # the cache is down: the normal way says so once, and copes
        return None
    result, stored = found.get(job.key), found.get(key)
    if (
        stored is None or result is None or result["shared_only"]
        or found.get(DEFINITIONS_VERSION_KEY) != known.version
        or stored["version"] != known.version
        or stored["stored_at"] != result["stored_at"]
    ):
        return None
    return _replayed(stored)


def keep(request, response, version: str | None, check, result) -> None:
    """Store the rendered `response` to `request`, the answer of `result` of
    `check` under the definitions `version`, for `answer()` to serve again."""
    if (
        version is None or result.stored_at is None or not _may_be_cached(request)
        or response.status_code not in CACHEABLE_STATUSES
        or getattr(response, "accepted_media_type", None) != "application/json"
    ):
        return
    job = runner.job_of(check)
    seconds = min(ANSWER_SECONDS, result.stored_at + check.get_ttl() - time.time())
    if not isinstance(job, Job) or seconds <= 0:
        return
    _store(_key(job), response, seconds, version=version, stored_at=result.stored_at)


def _may_be_cached(request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and not request.META.get("QUERY_STRING")
        and answers_json(request.META.get("HTTP_ACCEPT", ""))
    )


def _key(job: Job) -> str:
    return f"answer:v1:{job.key}"


# --- Projects and tags ------------------------------------------------------------


def project_scope(project: str) -> tuple[str, list[str]]:
    """(answer key, generation keys) of `/checks/{project}`."""
    return f"answer:v1:project:{project}", [f"generation:project:{project}"]


def tags_scope(names) -> tuple[str, list[str]]:
    """(answer key, generation keys) of `/checks/tags/{a}+{b}...`."""
    names = sorted(set(names))
    return f"answer:v1:tags:{'+'.join(names)}", [f"generation:tag:{n}" for n in names]


def answer_many(request, scope: tuple[str, list[str]], version: str | None) -> HttpResponse | None:
    """The stored answer of a project or tags, if still current."""
    if version is None or not _may_be_cached(request):
        return None
    key, generation_keys = scope
    try:
        found = cache.get_many([DEFINITIONS_VERSION_KEY, key, *generation_keys])
    except Exception:
        return None
    stored = found.get(key)
    if (
        stored is None or found.get(DEFINITIONS_VERSION_KEY) != version
        or stored["version"] != version
        or stored["generations"] != [found.get(k) for k in generation_keys]
    ):
        return None
    return _replayed(stored)


def generations(scope: tuple[str, list[str]]) -> list[str] | None:
    """The current generations of a scope, read before its results (made when
    missing); None when the cache is down."""
    keys = scope[1]
    try:
        found = cache.get_many(keys)
        if len(found) < len(keys):
            for key in keys:
                cache.add(key, uuid.uuid4().hex, timeout=None)
            found = cache.get_many(keys)
    except Exception:
        return None
    return [found.get(key) for key in keys]


def keep_many(request, response, scope, version, read_generations, checks, results) -> None:
    """Store the rendered answer of a project or tags, when all its results were
    cached, under the generations read before them."""
    if (
        version is None or not read_generations or None in read_generations
        or not _may_be_cached(request) or response.status_code not in CACHEABLE_STATUSES
        or getattr(response, "accepted_media_type", None) != "application/json"
        or any(result.stored_at is None for result in results)
    ):
        return
    expires = min(r.stored_at + c.get_ttl() for c, r in zip(checks, results))
    seconds = min(ANSWER_SECONDS, expires - time.time())
    if seconds <= 0:
        return
    _store(scope[0], response, seconds, version=version, generations=read_generations)


def _replayed(stored: dict) -> HttpResponse:
    response = HttpResponse(stored["body"], status=stored["status"], headers=stored["headers"])
    # The headers the middleware after CachedAnswersMiddleware adds to the
    # rendered answer. Without Content-Length, gunicorn would frame the body in
    # chunks: one more write to the socket, a fifth of a cached answer's cost.
    response["Content-Length"] = str(len(stored["body"]))
    response["X-Frame-Options"] = X_FRAME_OPTIONS
    # Its 503 is a failing check, not an error of this server: as when it was made
    # (audits.api.views), no django.request ERROR line for it.
    response._has_been_logged = True
    return response


def _store(key: str, response, seconds: float, **identity) -> None:
    response.render()
    stored = {
        **identity,
        "status": response.status_code,
        "headers": {name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
        "body": response.content,
    }
    try:
        cache.set(key, stored, timeout=seconds)
    except Exception:  # an optimisation only: the next request renders it again
        pass
