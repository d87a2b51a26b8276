# One image for the worker, the sink, the OTLP receiver, the UI and the CLI
# (docker-compose.yml runs each as its own service).
FROM python:3.11.14-slim
WORKDIR /app
COPY pyproject.toml README.md ./
# Every folder the distribution's package-dir maps (pyproject.toml): the wheel
# needs them all, including deploy/kafka (tracestream.broker, used by
# `tracestream kafka topics`).
COPY tracestream ./tracestream
COPY schemas ./schemas
COPY producers ./producers
COPY streams ./streams
COPY sinks ./sinks
COPY replay ./replay
COPY demo ./demo
COPY ui ./ui
COPY deploy/kafka ./deploy/kafka
RUN pip install --no-cache-dir '.[pipeline,ui,otlp]' \
    && mkdir -p /var/lib/tracestream \
    && chown nobody:nogroup /var/lib/tracestream
# `nobody` has no home directory; the settings' `home` (data, caches, key
# files) goes to a directory it owns, a volume in compose.
ENV TRACESTREAM_HOME=/var/lib/tracestream
USER nobody
ENTRYPOINT ["tracestream"]
