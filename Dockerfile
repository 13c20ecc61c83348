# The project's one image: `smsc-analytics ingest`, `smsc-analytics worker`, `smsc-analytics report ...`.
# Runtime dependencies only (no dev extras, no embedded broker: the stack runs Apache Kafka).
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .
# The versions `make install` and the tests use (requirements.lock as constraints), pip included.
RUN pip install -c requirements.lock pip \
    && pip install -c requirements.lock .


FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

COPY --from=build /opt/venv /opt/venv

# A fixed non-root user; /data/archive exists and is theirs, so a named volume mounted there starts
# owned by them (Docker copies the ownership of the image's directory into an empty volume).
RUN groupadd --system --gid 10001 smsc \
    && useradd --system --uid 10001 --gid smsc --home-dir /var/lib/smsc --create-home --shell /usr/sbin/nologin smsc \
    && mkdir -p /data/archive /var/lib/smsc/worker \
    && chown -R smsc:smsc /data /var/lib/smsc

USER smsc
WORKDIR /var/lib/smsc

# ingest 8080, worker /metrics 6066
EXPOSE 8080 6066

ENTRYPOINT ["smsc-analytics"]
CMD ["--help"]
