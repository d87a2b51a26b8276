"""tracestream.producers"""
