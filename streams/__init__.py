"""tracestream.streams"""
