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

# /__version__ serves VERSION_FILE (version.json, in /app where the processes run):
# Dockerflow's {"source", "version", "commit", "build"}, from the build's arguments:
#   docker build --build-arg VERSION="$(git describe --tags --always)" \
#       --build-arg COMMIT="$(git rev-parse HEAD)" --build-arg SOURCE=<repository URL> \
#       --build-arg BUILD=<URL of the CI build> -t telescope-audits .
# Declared after the slow layers, so that new values never reinstall the packages.
# An argument not given is written as "" (the build knows nothing), never left out.
ARG SOURCE=""
ARG VERSION=""
ARG COMMIT=""
ARG BUILD=""
RUN python -c 'import json, os; json.dump({key: os.environ.get(key.upper(), "") for key in ("source", "version", "commit", "build")}, open("version.json", "w"), indent=2)'

# The folder where the web's and the workers' processes write their metrics for
# /__metrics__ to sum (PROMETHEUS_MULTIPROC_DIR): a volume in docker-compose.yml,
# which takes this owner when it is created.
RUN mkdir /metrics && chown 10001:10001 /metrics
USER 10001:10001
EXPOSE 8000
# The web server's health, as the web service's check in docker-compose.yml. The
# other processes of this image serve no HTTP: docker-compose.yml gives the worker a
# check of its own and turns this one off for beat and migrate; start them with
# `docker run --no-healthcheck` elsewhere. (curl exits 22 or 7: Docker wants 1.)
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://localhost:8000/__lbheartbeat__ || exit 1
# Keep in step with the web service's command in docker-compose.yml (a test checks).
CMD ["gunicorn", "--config", "telescope_site/gunicorn_conf.py", "telescope_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "1", "--threads", "16"]
