"""The knobs both worker runtimes share, in seconds; each runtime's config adds its own.

Built by the front from the settings (whose ``worker_*_ms`` names stay as
users set them; the front converts to seconds). The runtimes convert to the
milliseconds Kafka clients take where they call them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracestream.schemas import Topics

__all__ = ["RuntimeConfig"]


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """Typed knobs of a worker runtime.

    Args:
        app_id: the consumer group, and the prefix of the state changelogs.
        kafka_bootstrap: comma-separated ``host:port`` of the brokers.
        topics: the topics read and written.
        partitions: partitions of the topics the runtime creates.
        replication_factor: of the topics the runtime creates.
        web_host: where ``/metrics`` is served.
        web_port: where ``/metrics`` is served.
        batch_size: most records per batch.
        batch_within_s: longest wait to fill a batch.
        tick_interval_s: how often due traces and windows are closed when no events arrive.
        session_timeout_s: the consumer group's session timeout: how long a member
            that died and did not come back under its name keeps its partitions.
        group_instance_id: this worker's static member name in the group
            (KIP-345); a worker started under the name of one that crashed takes
            its partitions at once. None: a dynamic member (a replacement waits
            for the crashed member's session to expire).
        client_id: the client id of every Kafka client the runtime opens.
        gc_full_collect_s: see :class:`~tracestream.streams.runtime._heap.HeapKeeper`;
            0: CPython's own GC.
    """

    app_id: str
    kafka_bootstrap: str
    topics: Topics
    partitions: int
    replication_factor: int = 1
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_size: int = 2000
    batch_within_s: float = 0.2
    tick_interval_s: float = 1.0
    session_timeout_s: float = 10.0
    group_instance_id: str | None = None
    client_id: str = "tracestream-worker"
    gc_full_collect_s: float = 0.0

    @property
    def heartbeat_interval_s(self) -> float:
        """A third of the session timeout, at most 3 s (Kafka's default)."""
        return min(3.0, self.session_timeout_s / 3)

    def joining_message(self) -> str:
        """What the worker waits for while it joins its group (logged before it does)."""
        if self.group_instance_id is None:
            return (
                f"joining consumer group {self.app_id} as a dynamic member; if a member "
                f"crashed, the group waits for its session to expire (up to "
                f"{self.session_timeout_s:.0f}s) before it assigns partitions"
            )
        return (
            f"joining consumer group {self.app_id} as static member {self.group_instance_id}; "
            f"a member that crashed under this name is replaced at once, one that crashed "
            f"under another name keeps its partitions until its session expires (up to "
            f"{self.session_timeout_s:.0f}s)"
        )
