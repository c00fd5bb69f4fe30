"""Metrics, traces and the conversation log, fed by real turns over gRPC.

The shared runtime's models, a scripted LLM (its reply leaks an e-mail address for
the redaction to catch), and a telemetry of its own per test module.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from npc_runtime.client import Conversation, channel
from npc_runtime.config import ConversationLogSettings, TelemetrySettings
from npc_runtime.convlog import REDACTED, ConversationLog, Redactor
from npc_runtime.events import Timings
from npc_runtime.llm.base import GenerationRequest
from npc_runtime.llm.scripted import ScriptedLLM
from npc_runtime.metrics import Metrics, overhead_ms
from npc_runtime.runtime import Runtime
from npc_runtime.server.driver import SessionDriver
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.server.service import start_server
from npc_runtime.server.ws_gateway import start_gateway
from npc_runtime.telemetry import Telemetry
from npc_runtime.tracing import Tracing, stage_spans

pytestmark = pytest.mark.models

LEAKY_SAY = "Write to me at jin@ramen.example or call 555-123-4567."


def _script(request: GenerationRequest) -> dict[str, Any]:
    return {"emotion": "joy", "say": LEAKY_SAY, "actions": []}


@dataclasses.dataclass
class Observed:
    runtime: Runtime
    address: str
    http: str
    spans: Any  # InMemorySpanExporter
    log_path: Path


@pytest.fixture(scope="module")
async def observed(
    runtime: object, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Observed]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    assert isinstance(runtime, Runtime)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    log_path = tmp_path_factory.mktemp("convlog") / "turns.jsonl"
    telemetry = Telemetry(
        Metrics(),
        Tracing(TelemetrySettings(), provider=provider),
        ConversationLog(ConversationLogSettings(path=str(log_path), salt="pepper")),
    )
    rt = dataclasses.replace(runtime, llm=ScriptedLLM(_script), telemetry=telemetry)
    driver = SessionDriver(rt)
    server, port = await start_server(rt, "127.0.0.1", 0, driver)
    gateway, ws_port = await start_gateway(rt, "127.0.0.1", 0, driver)
    yield Observed(rt, f"127.0.0.1:{port}", f"http://127.0.0.1:{ws_port}", exporter, log_path)
    await gateway.stop(1)
    await server.stop(1)
    telemetry.close()


async def _text_turn(conv: Conversation, text: str) -> pb.TurnEnd:
    conv.send_text(text)
    result = await conv.collect_turn(timeout=60)
    assert result.end is not None, [e.message for e in result.errors]
    return result.end


async def test_a_turn_feeds_metrics_traces_and_the_log(observed: Observed) -> None:
    metrics = observed.runtime.telemetry.metrics
    before = metrics.sample("npc_turns_total", {"cause": "text", "outcome": "completed"})
    llm_before = metrics.sample("npc_turn_stage_seconds_count", {"stage": "llm_total"})
    player = f"alice-{uuid.uuid4().hex[:6]}"
    async with channel(observed.address) as chan:
        conv = Conversation(
            chan, pb.SessionStart(character_id="jin", player_id=player, text_only=True)
        )
        await conv.wait_ready()
        assert metrics.sample("npc_sessions", {"transport": "grpc"}) >= 1
        end = await _text_turn(conv, "My mail is alice@example.org, phone +44 20 7946 0958.")
        conv.close()
        while await conv.next() is not None:
            pass

    # Metrics: the turn, its stages, its tokens; the session is gone again.
    assert (
        metrics.sample("npc_turns_total", {"cause": "text", "outcome": "completed"}) == before + 1
    )
    assert metrics.sample("npc_turn_stage_seconds_count", {"stage": "llm_total"}) == llm_before + 1
    assert metrics.sample("npc_turn_stage_seconds_count", {"stage": "total"}) >= 1
    assert metrics.sample("npc_turn_stage_seconds_count", {"stage": "asr"}) == 0  # text turn
    assert metrics.sample("npc_turn_runtime_overhead_seconds_count") >= 1
    assert metrics.sample("npc_llm_tokens_total", {"kind": "completion"}) > 0
    assert metrics.sample("npc_sessions", {"transport": "grpc"}) == 0

    # /metrics exposes them as Prometheus text.
    async with aiohttp.ClientSession() as http, http.get(observed.http + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    assert 'npc_turn_stage_seconds_bucket{le="0.005",stage="llm_total"}' in text
    assert 'npc_turns_total{cause="text",outcome="completed"}' in text
    assert 'npc_sessions{transport="grpc"} 0.0' in text
    for gauge in ("npc_outbox_events", "npc_memory_write_queue", "npc_background_writes"):
        assert f"\n{gauge} " in text, gauge

    # One trace: the turn and a span per stage that ran, inside it.
    spans = [
        s
        for s in observed.spans.get_finished_spans()
        if s.attributes.get("npc.turn_id") == end.turn_id
    ]
    assert len(spans) == 1
    root = spans[0]
    children = {
        s.name: s
        for s in observed.spans.get_finished_spans()
        if s.parent and s.parent.span_id == root.context.span_id
    }
    assert {"npc.llm", "npc.recall"} <= set(children), children
    assert root.attributes["npc.cause"] == "text"
    assert (
        root.start_time
        <= children["npc.llm"].start_time
        <= children["npc.llm"].end_time
        <= root.end_time
    )
    assert [e.name for e in root.events] == ["first_text_sent"]

    # The conversation log: one redacted line for the turn.
    lines = [json.loads(x) for x in observed.log_path.read_text().splitlines()]
    line = next(x for x in lines if x["turn_id"] == end.turn_id)
    assert line["player"] == Redactor(ConversationLogSettings(salt="pepper")).player(player)
    assert player not in json.dumps(line)
    assert line["input"] == f"My mail is {REDACTED}, phone {REDACTED}."
    assert line["reply"] == f"Write to me at {REDACTED} or call {REDACTED}."
    assert line["emotion"] == "joy" and line["actions"] == [] and not line["interrupted"]
    assert line["timings"]["total_ms"] == pytest.approx(end.timings.total_ms, abs=0.01)


async def test_errors_are_counted_by_code(observed: Observed) -> None:
    metrics = observed.runtime.telemetry.metrics
    before = metrics.sample("npc_errors_total", {"code": "INVALID_ARGUMENT"})
    refused = metrics.sample("npc_sessions_refused_total", {"code": "NOT_FOUND"})
    async with channel(observed.address) as chan:
        conv = Conversation(chan, pb.SessionStart(character_id="jin", text_only=True))
        await conv.wait_ready()
        conv.send_text("   ")  # empty text: an Error, the session goes on
        ev = await conv.next(30)
        assert ev is not None and ev.WhichOneof("event") == "error"
        conv.close()
        while await conv.next() is not None:
            pass
        nobody = Conversation(chan, pb.SessionStart(character_id="nobody"))
        with pytest.raises(Exception, match="nobody"):
            await nobody.wait_ready()
    assert metrics.sample("npc_errors_total", {"code": "INVALID_ARGUMENT"}) == before + 1
    assert metrics.sample("npc_sessions_refused_total", {"code": "NOT_FOUND"}) == refused + 1


# --- units -----------------------------------------------------------------------------


def test_redaction_options(tmp_path: Path) -> None:
    cfg = ConversationLogSettings(
        path=str(tmp_path / "log.jsonl"),
        redact=[r"\bdragon\w*"],
        drop_prompts=True,
        hash_player_ids=False,
    )
    log = ConversationLog(cfg)
    line = log.record(
        session_id="s",
        character_id="jin",
        player_id="p1",
        turn_id="t1",
        cause="text",
        player_text="secret prompt",
        reply="The dragons sleep; mail x@y.io",
        heard="The dragons sleep",
        emotion="fear",
        interrupted=True,
        timings=Timings(total_ms=12.5),
        actions=[{"verb": "give", "target": "dragonstone"}],
        recalled="recalled secret",
    )
    log.close()
    assert "input" not in line and "recalled" not in line
    assert line["player"] == "p1"
    # Only the configured regexes apply: the default e-mail pattern is gone.
    assert line["reply"] == f"The {REDACTED} sleep; mail x@y.io"
    assert line["actions"] == [{"verb": "give", "target": REDACTED}]
    assert line["timings"] == {"total_ms": 12.5}
    assert json.loads((tmp_path / "log.jsonl").read_text()) == line


def test_player_hash_is_salted_and_stable() -> None:
    a = Redactor(ConversationLogSettings(salt="a"))
    assert (
        a.player("bob")
        == a.player("bob")
        != Redactor(ConversationLogSettings(salt="b")).player("bob")
    )
    assert len(a.player("bob")) == 16 and a.player("") == ""


def test_stage_spans_and_overhead() -> None:
    t = Timings(
        end_of_speech_ms=300,
        asr_ms=150,
        transcript_at_ms=120,
        recall_ms=20,
        llm_start_at_ms=150,
        llm_total_ms=500,
        llm_first_token_ms=100,
        tts_start_at_ms=400,
        tts_total_ms=300,
        total_ms=1000,
    )
    spans = {name: (a, b) for name, a, b in stage_spans(t)}
    assert spans["npc.asr"] == (-30, 120)  # speculative: before the silence was over
    assert spans["npc.recall"] == (130, 150)
    assert spans["npc.llm"] == (150, 650)
    assert spans["npc.tts"] == (400, 700)
    assert overhead_ms(t) == pytest.approx(1000 - 150 - 20 - 500 - 300)
