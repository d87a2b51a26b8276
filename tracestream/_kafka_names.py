"""Every Kafka name a deployment uses, derived from its topic prefix by one rule.

The rule: **a name is the deployment's** ``topic_prefix`` **followed by its
base name**. Topics follow it (:class:`~tracestream.schemas.Topics`), and so do

- the worker's consumer group and application id: ``<prefix><worker_app_id>``
  (its changelog topics start with it, so they follow too);
- the sink's consumer group: ``<prefix><sink_group_id>``;
- the client id of every Kafka client a worker or sink opens: its group's
  name (shown in the broker's logs and used for quotas, so two deployments'
  clients are told apart);
- the static member name of a worker or sink in its group (KIP-345):
  ``<group>.<member>``, see :func:`claim_member`.

There are no transactional ids: both worker runtimes run at least once
(Faust's ``exactly_once`` has open bugs) and the sinks deduplicate.

Two deployments that share a cluster with different prefixes therefore share
no group, no changelog and no member name.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracestream._settings import Settings

__all__ = ["KafkaNames", "MemberClaim", "claim_member", "kafka_names", "member_name"]

_log = logging.getLogger("tracestream.kafka")

#: Kafka's rule for group instance ids: these characters, at most 249 of them.
_LEGAL = re.compile(r"[^A-Za-z0-9._-]")
_MAX_ID = 249


@dataclass(frozen=True, slots=True)
class KafkaNames:
    """The names of one deployment (see the module docstring for the rule).

    Args:
        prefix: the deployment's topic prefix (``topic_prefix``).
        worker_app_id: the worker's base group name (``worker_app_id``).
        sink_group_id: the sink's base group name (``sink_group_id``).
    """

    prefix: str
    worker_app_id: str = "tracestream-worker"
    sink_group_id: str = "tracestream-sink"

    @property
    def worker_group(self) -> str:
        """The worker's consumer group (the Faust app id; its changelogs' prefix)."""
        return self.prefix + self.worker_app_id

    @property
    def sink_group(self) -> str:
        """The sink's consumer group."""
        return self.prefix + self.sink_group_id

    @staticmethod
    def client_id(group: str) -> str:
        """The client id of the Kafka clients of a process in ``group``: the group's name."""
        return group

    @staticmethod
    def instance_id(group: str, member: str) -> str:
        """The static member name (``group.instance.id``) of ``member`` in ``group``.

        Characters Kafka does not allow in it become ``-``; past 249
        characters the group part is cut, so the member part stays distinct.
        """
        member = _LEGAL.sub("-", member)
        return (_LEGAL.sub("-", group)[: _MAX_ID - len(member) - 1] + "." + member)[:_MAX_ID]


def kafka_names(settings: Settings) -> KafkaNames:
    """The names of the deployment ``settings`` describe."""
    return KafkaNames(settings.topic_prefix, settings.worker_app_id, settings.sink_group_id)


@dataclass(frozen=True, slots=True)
class MemberClaim:
    """A static member name held by this process (its slot's lock lives as long as it)."""

    member: str
    slot: int | None
    _fd: int | None = None

    def release(self) -> None:
        """Give the slot back (the process's exit does the same)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)


def member_name(hostname: str, slot: int) -> str:
    """The derived member name of slot ``slot`` on ``hostname``."""
    return f"{hostname.split('.')[0] or 'host'}-{slot}"


def claim_member(
    group: str, configured: str = "", *, lock_dir: Path | None = None, max_slots: int = 256
) -> MemberClaim | None:
    """This process's member name in ``group``: ``configured``, or one derived for this host.

    The derived name is ``<hostname>-<n>``, where *n* is the lowest number that
    no live process of the same group on this host holds: each claim takes an
    exclusive ``flock`` on ``<lock_dir>/<group>.<n>.lock`` and keeps it until
    the process ends. The kernel drops the lock when a process dies, even by
    SIGKILL, so a worker restarted after a crash gets the crashed one's name
    back, and Kafka hands it the crashed member's partitions at once (static
    membership) instead of after the old session expires. Processes of one
    group on one host never share a name (a shared name would make them fence
    each other off in turn).

    Args:
        group: the consumer group (already prefixed).
        configured: an explicit member name (``group_instance_name``); taken as is.
        lock_dir: where the slot locks live; default ``<tmp>/tracestream-members``
            (shared by the host's users: sticky and world-writable, like ``/tmp``).
        max_slots: the most processes of one group on one host.

    Returns:
        The claim, or None when no slot can be had (the lock directory is not
        writable, or every slot is taken): the caller then joins without a
        static name, and says so.
    """
    if configured:
        return MemberClaim(configured, None)
    directory = lock_dir or Path(tempfile.gettempdir()) / "tracestream-members"
    safe_group = _LEGAL.sub("-", group)
    try:
        _make_shared_dir(directory)
        for slot in range(max_slots):
            # Read-only is enough for flock, and lets another user lock a file we made.
            fd = os.open(directory / f"{safe_group}.{slot}.lock", os.O_RDONLY | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return MemberClaim(member_name(socket.gethostname(), slot), slot, fd)
    except OSError as exc:
        _log.warning(
            "cannot claim a static member name for group %s in %s (%s): joining as a "
            "dynamic member, so after a crash the group waits for the old session to "
            "expire. Set group_instance_name to avoid that.",
            group,
            directory,
            exc,
        )
        return None
    _log.warning("all %d member slots of group %s on this host are taken", max_slots, group)
    return None


def _make_shared_dir(directory: Path) -> None:
    """Create ``directory`` sticky and world-writable (once); leave an existing one alone."""
    try:
        directory.mkdir(parents=True)
    except FileExistsError:
        return
    # mkdir's mode is masked by the umask; chmod is not.
    directory.chmod(0o1777)
