# One image for every process of the distributed mode; docker-compose.yml runs it
# as migrate, web (this CMD), worker and beat.
#
#   docker build -t telescope-audits .
#   docker run --env-file .env -p 127.0.0.1:8000:8000 telescope-audits
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# curl: the web health check uses it, and so does the checks.core.http_versions check.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

# The processes run as "app" (uid 10001); the code and the static files stay root's.
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --create-home --shell /usr/sbin/nologin app

WORKDIR /app
# The runtime lock only (the test tools are in requirements-dev.txt), every package
# checked against its hash.
COPY requirements.txt .
RUN pip install --require-hashes -r requirements.txt
COPY . .

# whitenoise serves the files collected here (var/static). The key below exists for
# this one command only: it is neither an ENV nor an ARG, so it is not in the image.
RUN SECRET_KEY=collectstatic-only-not-a-secret \
    python manage.py collectstatic --noinput --verbosity 0

USER 10001:10001
EXPOSE 8000
# Keep in step with the web service's command in docker-compose.yml (a test checks).
CMD ["gunicorn", "telescope_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "1", "--threads", "16"]
