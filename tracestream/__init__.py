"""tracestream: structured, searchable traces of AI applications.

``import tracestream`` stays cheap: the SDK is imported here, the pipeline
(Faust, ClickHouse) only by the CLI commands that need it.
"""

from tracestream.schemas import TracestreamError

from ._configure import configure

__all__ = ["TracestreamError", "__version__", "configure"]

__version__ = "0.1.0"
