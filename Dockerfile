# One image for the worker, the sink and the CLI.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tracestream ./tracestream
COPY schemas ./schemas
COPY producers ./producers
COPY streams ./streams
COPY sinks ./sinks
RUN pip install --no-cache-dir '.[pipeline]'
USER nobody
ENTRYPOINT ["tracestream"]
