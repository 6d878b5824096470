# syntax=docker/dockerfile:1
# The image the Helm chart runs:  docker build -t switchyard:0.1.0 .
# Every pod runs one command of it (a pool's `celery worker`, beat, `switchyard api`,
# `switchyard exporter`, the hook's `switchyard topology declare` / `switchyard db migrate`),
# as uid 10001, on a read-only root filesystem with /tmp as an emptyDir.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/switchyard
WORKDIR /src
COPY . .
# A regular (not editable) install: the runtime stage takes the virtualenv, not the source.
ARG EXTRAS=flower
RUN /opt/switchyard/bin/pip install ".${EXTRAS:+[${EXTRAS}]}"

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 switchyard \
    && useradd --system --uid 10001 --gid switchyard --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin switchyard
COPY --from=build /opt/switchyard /opt/switchyard
ENV PATH=/opt/switchyard/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /srv/switchyard
USER 10001:10001
CMD ["switchyard", "--help"]
