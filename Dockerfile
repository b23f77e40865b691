# syntax=docker/dockerfile:1
# The platform's image; the command picks the service (docs/production.md, "Images"):
#   python -m services.registration | services.matching | services.surveys | services.reporting
#   girlsday streams        (the one-shot init job that declares the JetStream streams)
# Configured only by GIRLSDAY_* environment variables (docs/architecture.md).
# EXTRAS chooses what the image carries beyond the base (pyproject.toml's extras), at the versions
# of requirements.lock: "surveys,matching" (default) runs every service, without the nats-server
# binary (the embedded extra is for `girlsday up` and the tests); a slim image per service:
#   docker build --build-arg EXTRAS=matching -t girlsday/matching .     (numpy, scipy, highspy)
#   docker build --build-arg EXTRAS=surveys -t girlsday/surveys .       (numpy, scipy)
#   docker build --build-arg EXTRAS= -t girlsday/registration .         (registration, reporting, streams job)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtualenv with the dependencies, then the project itself ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
ARG EXTRAS=surveys,matching
# Dependencies first (pyproject.toml's, pinned by the lock file), so code changes do not reinstall them.
COPY pyproject.toml requirements.lock deploy/docker/requirements.py ./
RUN python requirements.py "${EXTRAS}" > requirements.txt \
 && pip install -c requirements.lock -r requirements.txt
COPY shared ./shared
COPY services ./services
RUN pip install --no-deps . \
 && python -m compileall -q shared services

# ---- runtime: slim, no compilers, no pip cache, non-root, read-only code ----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="girlsday" \
      org.opencontainers.image.description="VHTO Girls' Day platform: registration, matching, surveys, reporting"
RUN groupadd --system --gid 10001 girlsday \
 && useradd --system --uid 10001 --gid girlsday --home-dir /app --no-create-home --shell /usr/sbin/nologin girlsday \
 && mkdir -p /var/lib/girlsday \
 && chown girlsday:girlsday /var/lib/girlsday
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The source tree (with its Alembic migrations and templates) is what runs; owned by root, so the
# service user cannot change it.
COPY --from=build /src/shared ./shared
COPY --from=build /src/services ./services
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GIRLSDAY_HOST=0.0.0.0 \
    GIRLSDAY_DATA_DIR=/var/lib/girlsday \
    GIRLSDAY_DECLARE_STREAMS=false
USER 10001:10001
EXPOSE 8101 8102 8103 8104
CMD ["python", "-m", "services.registration"]
