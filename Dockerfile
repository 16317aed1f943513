# imagerepo for the production stack (PostgreSQL + S3); see docs/production.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# EXTRAS=postgres,s3 gives a smaller image for deployments that analyze with Azure only.
ARG EXTRAS=postgres,s3,local
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY src ./src
RUN pip install ".[${EXTRAS}]" \
    && case ",${EXTRAS}," in *,local,*) pip install --no-deps -r requirements/extra.txt ;; esac \
    && useradd --system --home-dir /var/lib/imagerepo --create-home imagerepo

USER imagerepo
WORKDIR /var/lib/imagerepo
# Only temporary upload files land here on the production stack; keys come from the environment.
ENV IMAGEREPO_DATA_DIR=/var/lib/imagerepo IMAGEREPO_HOST=0.0.0.0 IMAGEREPO_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4).status != 200)"
CMD ["imagerepo", "serve", "--workers", "0"]
