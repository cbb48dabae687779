# Image for the web, worker and beat processes (see docker-compose.yml).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 itsm
WORKDIR /app

# The code is installed in place (editable), so settings find templates/ and static/ in /app.
COPY pyproject.toml README.md manage.py ./
COPY itsm ./itsm
COPY cmdb ./cmdb
COPY incidents ./incidents
COPY changes ./changes
COPY releases ./releases
COPY agents ./agents
COPY templates ./templates
COPY static ./static
RUN pip install -e .

# collectstatic needs settings that load: a throwaway key, never used at run time.
RUN DEBUG=0 SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
    && chown -R itsm:itsm /app

USER itsm
EXPOSE 8000
CMD ["gunicorn", "itsm.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
