module github.com/tracestream/tracestream/deploy/otelcol

go 1.24
