"""Access rules, the score endpoint, and the read path through the query server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from tests.integration.ui._client import RANGE, Answer, call, serve
from tracestream.schemas import EVENT_ADAPTER, ScoreEvent, Topics
from tracestream.sinks import (
    TABLE_MAPPINGS,
    ChdbStorage,
    QueryServer,
    RetentionPolicy,
    discover_query_server,
    map_records,
)
from tracestream.ui import AccessKeys, KafkaScoreSender

pytestmark = pytest.mark.integration

B5, B6 = f"{0xB5:032x}", f"{0xB6:032x}"
KEY = "k" * 24
JSON = {"Content-Type": "application/json"}


def post_score(url: str, body: object, headers: dict[str, str] | None = None) -> object:
    return call(f"{url}/api/scores", method="POST", data=json.dumps(body).encode(),
                headers=headers if headers is not None else JSON)  # fmt: skip


def test_off_loopback_every_request_needs_the_key(ui_storage: ChdbStorage) -> None:
    with serve(ui_storage, access_key=KEY, loopback=False) as server:
        url = server.url
        assert call(f"{url}/api/traces?{RANGE}").status == 401
        wrong = call(f"{url}/api/traces?{RANGE}", headers={"Authorization": "Bearer " + "x" * 24})
        assert wrong.status == 401
        ok = call(f"{url}/api/traces?{RANGE}", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status == 200 and len(ok.body["items"]) == 6
        # Browsers are sent to the login form, which sets an HttpOnly cookie.
        page = call(f"{url}/")
        assert (page.status, page.headers["location"]) == (303, "/login")
        assert 'action="/login"' in call(f"{url}/login").body
        bad = call(f"{url}/login", method="POST", data=b"key=nope",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert bad.status == 401
        login = call(f"{url}/login", method="POST", data=f"key={KEY}".encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert (login.status, login.headers["location"]) == (303, "/")
        cookie = login.headers.get("set-cookie", "")
        assert cookie.startswith(f"tracestream_ui_key={KEY};")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        with_cookie = call(
            f"{url}/api/traces?{RANGE}", headers={"Cookie": f"tracestream_ui_key={KEY}"}
        )
        assert with_cookie.status == 200


def test_on_loopback_a_foreign_host_name_is_refused(ui_url: str) -> None:
    # A page elsewhere that rebinds its DNS name to 127.0.0.1 still sends its own Host.
    assert call(f"{ui_url}/api/traces?{RANGE}", headers={"Host": "evil.example"}).status == 400
    assert call(f"{ui_url}/api/traces?{RANGE}", headers={"Host": "localhost:7070"}).status == 200


def test_score_posts_are_checked_before_anything_is_sent(ui_url: str) -> None:
    body = {"trace_id": B5, "name": "thumbs", "value": True, "kind": "thumbs"}
    form = post_score(ui_url, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415  # type: ignore[attr-defined]
    bad = post_score(ui_url, {**body, "value": 0.3})
    assert bad.status == 400 and "thumbs" in bad.body["error"]  # type: ignore[attr-defined]
    unknown = post_score(ui_url, {**body, "trace_id": "f" * 32})
    assert unknown.status == 404  # type: ignore[attr-defined]
    # This server has no Kafka to send to: the person is told, nothing is lost silently.
    assert post_score(ui_url, body).status == 503  # type: ignore[attr-defined]


async def test_a_score_travels_to_kafka_and_once_stored_shows_on_the_trace(
    ui_storage: ChdbStorage, kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    # On b6 (the batch job), whose scores no other test reads.
    span_id = "00b6000000000001"
    sender = KafkaScoreSender(bootstrap_servers=kafka_bootstrap, topic=kafka_topics.events)
    body = {"trace_id": B6, "span_id": span_id, "name": "thumbs", "value": False,
            "comment": "too slow", "kind": "thumbs"}  # fmt: skip
    with serve(ui_storage, scores=sender) as server:
        answer = await asyncio.to_thread(post_score, server.url, body)
        assert answer.status == 202, answer.body  # type: ignore[attr-defined]
        event_id = answer.body["event_id"]  # type: ignore[attr-defined]

        consumer = AIOKafkaConsumer(
            kafka_topics.events, bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
        )  # fmt: skip
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=10_000)
        finally:
            await consumer.stop()
        records = [r for batch in batches.values() for r in batch]
        assert len(records) == 1
        record = records[0]
        assert record.key == B6.encode()
        assert dict(record.headers) == {"content-type": b"application/json", "schema-version": b"1"}
        # What the worker does with it: parse by the contract, forward it unchanged.
        event = EVENT_ADAPTER.validate_json(record.value)
        assert isinstance(event, ScoreEvent)
        assert (event.event_id, event.project, event.environment, event.service) == (
            event_id, "bulk", "production", "tracestream-ui",
        )  # fmt: skip
        assert (event.span_id, event.name, event.value, event.source, event.comment) == (
            span_id, "thumbs", False, "human", "too slow",
        )  # fmt: skip
        # What the sink does: its row mapping, then the insert.
        mapping = TABLE_MAPPINGS["scores"]
        # A long retention: the pinned clock dates the score 2026-11-01, and
        # the table's TTL would drop a row older than its retention at once.
        retention = RetentionPolicy(default_days=3650)
        mapped = map_records(mapping, [json.loads(record.value)], retention)
        assert not mapped.rejected
        await asyncio.to_thread(ui_storage.insert, mapping.table, mapped.table)

        shown = await asyncio.to_thread(call, f"{server.url}/api/traces/{B6}/spans/{span_id}")
    assert [
        (s["event_id"], s["value"], s["comment"], s["source"]) for s in shown.body["scores"]
    ] == [(event_id, False, "too slow", "human")]


def test_reads_through_the_owners_query_server_answer_the_same(
    ui_storage: ChdbStorage, ui_url: str, tmp_path: Path
) -> None:
    # `tracestream ui` reads as `tracestream query` does: through the process
    # that owns the chDB directory. Parameters cross that server as JSON.
    with QueryServer(ui_storage, discovery_path=tmp_path / "query-server.json"):
        client = discover_query_server(tmp_path / "query-server.json")
        assert client is not None
        with serve(client) as server:
            for path in (
                f"/api/traces?{RANGE}&project=shop&has_errors=true&q=order&min_cost_usd=0.001",
                f"/api/traces/{B5}",
                f"/api/traces/{B5}/spans/00b5000000000003",
                f"/api/overview?{RANGE}",
            ):
                via_server = call(server.url + path)
                assert via_server.status == 200, via_server.body
                assert via_server.body == call(ui_url + path).body, path


def test_a_key_scoped_to_a_project_sees_only_that_project(ui_storage: ChdbStorage) -> None:
    shop_key, admin_key = "s" * 20, "a" * 20
    keys = AccessKeys.from_mapping({shop_key: ["shop"], admin_key: "*"})
    a4 = f"{0xA4:032x}"  # project "other"
    with serve(ui_storage, access_keys=keys, loopback=False) as server:
        url = server.url

        def get(path: str, key: str = shop_key) -> Answer:
            return call(url + path, headers={"Authorization": f"Bearer {key}"})

        listed = [t["trace_id"][-2:] for t in get(f"/api/traces?{RANGE}").body["items"]]
        assert listed == ["a3", "b5", "a2", "a1"]
        assert [t["trace_id"][-2:] for t in get(f"/api/traces?{RANGE}", admin_key).body["items"]] == [
            "a3", "a4", "b6", "b5", "a2", "a1",
        ]  # fmt: skip
        # Asking for another project by name does not widen the scope.
        assert get(f"/api/traces?{RANGE}&project=other").body["items"] == []
        assert get(f"/api/facets?{RANGE}").body["projects"] == ["shop"]
        assert get(f"/api/traces/{a4}").status == 404
        assert get(f"/api/traces/{a4}/spans/0000000000000a41").status == 404
        assert get(f"/api/traces/{a4}", admin_key).status == 200
        assert get(f"/api/search?q=hello&{RANGE}").body["items"] == []
        assert len(get(f"/api/search?q=hello&{RANGE}", admin_key).body["items"]) == 1
        assert {s["project"] for s in get(f"/api/sessions?{RANGE}").body["items"]} == {"shop"}
        assert (
            get(f"/api/sessions/u-1?by=user&{RANGE}").body["turns"][2]["trace_id"] == f"{0xA3:032x}"
        )
        services = {r["service"] for r in get(f"/api/overview?{RANGE}").body["cost_by_service"]}
        assert services == {"checkout", "search", "support"}
        score = call(f"{url}/api/scores", method="POST",
                     data=json.dumps({"trace_id": a4, "name": "n", "value": 1}).encode(),
                     headers={**JSON, "Authorization": f"Bearer {shop_key}"})  # fmt: skip
        assert score.status == 404
        assert len(get(f"/api/anomalies?{RANGE}").body["items"]) == 2
