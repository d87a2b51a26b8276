"""tracestream.demo: the demo's workload, a simulated AI support agent traced with the SDK.

``tracestream demo`` (the front's CLI) runs it through the whole pipeline; the
benchmarks reuse it as realistic traffic. It imports the SDK only.
"""

from ._incidents import DEMO_INCIDENTS, NO_INCIDENTS, Incidents
from ._workload import MODELS, WorkloadResult, run_workload

__all__ = [
    "DEMO_INCIDENTS",
    "MODELS",
    "NO_INCIDENTS",
    "Incidents",
    "WorkloadResult",
    "run_workload",
]
