"""Topic clean-up refuses to run without a prefix (it would delete every topic)."""

from __future__ import annotations

import asyncio

import pytest

from tracestream.broker._topics import delete_topics_with_prefix

pytestmark = pytest.mark.unit


def test_deleting_topics_needs_a_prefix() -> None:
    with pytest.raises(ValueError, match="prefix is empty"):
        asyncio.run(delete_topics_with_prefix("127.0.0.1:1", ""))
