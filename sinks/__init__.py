"""tracestream.sinks"""
