"""The kiosk and designer pages in a real browser: headless chromium whose microphone
plays a synthesised question, against the gateway with the real models."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from kiosk_browser import ChromiumMissing, ensure_chromium, launch, write_wav

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
QUESTION = "What is the best ramen in the city?"
MIC_RATE = 48_000
# Silence after the question, long enough for the whole reply: chrome loops the file,
# and the question heard again would barge in.
TAIL_S = 50.0
TURN_TIMEOUT_S = 100.0

Speak = Callable[[str, int], Awaitable[np.ndarray]]


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return ensure_chromium()
    except ChromiumMissing as e:
        if e.can_install or os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))


@pytest.fixture(scope="module")
async def question_wav(speech: Speak, tmp_path_factory: pytest.TempPathFactory) -> Path:
    voice = await speech(QUESTION, MIC_RATE)
    silence = np.zeros(int(MIC_RATE * 1.0), np.float32)
    tail = np.zeros(int(MIC_RATE * TAIL_S), np.float32)
    clip = np.concatenate([silence, 0.8 * voice / max(1e-6, float(np.abs(voice).max())), tail])
    return write_wav(tmp_path_factory.mktemp("kiosk") / "question.wav", clip, MIC_RATE)


@pytest.fixture
async def browser(chromium: str, question_wav: Path, tmp_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        context = await launch(pw, tmp_path / "profile", question_wav)
        try:
            yield context
        finally:
            await context.close()


async def _page(context: Any, url: str) -> Any:
    page = context.pages[0] if context.pages else await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.problems = problems
    await page.goto(url)
    await page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    return page


async def test_kiosk_hands_free_turn_in_chromium(browser: Any, ws_address: str) -> None:
    page = await _page(browser, f"http://{ws_address}/")
    await page.select_option("#character", "jin")
    await page.check("input[name=mode][value=hands-free]")
    await page.click("#start")

    # Sample the mouth while the turn runs: its openness must change as the voice plays.
    openness: list[float] = []
    state: dict[str, Any] = {}
    deadline = time.monotonic() + TURN_TIMEOUT_S
    while time.monotonic() < deadline:
        state = await page.evaluate(
            """() => ({
                stats: window.kioskStats,
                open: Number(document.getElementById('mouth').dataset.open),
                user: [...document.querySelectorAll('.line.user .text')].map(e => e.textContent),
                npc: [...document.querySelectorAll('.line.npc .text')].map(e => e.textContent),
                status: document.body.dataset.status,
            })"""
        )
        openness.append(state["open"])
        stats = state["stats"]
        if stats["turnsEnded"] >= 1 and not stats["playing"]:
            break
        await asyncio.sleep(0.05)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "kiosk.png"))
    stats = state["stats"]
    assert stats["turnsEnded"] >= 1, f"no turn ended in {TURN_TIMEOUT_S} s: {state}"

    heard = " ".join(state["user"]).lower()
    assert "ramen" in heard, f"the page shows no transcript of the question: {state['user']}"
    assert any(t.strip() for t in state["npc"]), f"no NPC text on the page: {state}"
    assert stats["audioChunksSent"] > 25, stats  # > 1 s of microphone audio went out
    assert stats["chunksReceived"] >= 3, stats
    assert stats["chunksPlayed"] >= 3, stats  # Web Audio played them to the end
    assert stats["visemesReceived"] > 0, stats
    assert stats["progressSent"] >= 1, stats
    assert stats["mouthMoves"] >= 5, stats
    assert stats["maxMouthOpen"] > 0.2, stats
    moved = {round(o, 2) for o in openness}
    assert len(moved) >= 4 and max(openness) > 0.2, f"the mouth did not move: {sorted(moved)}"
    timings = await page.inner_text("#timings")
    assert "ASR" in timings and "first audio sent at" in timings, timings
    assert not [e for e in stats["errors"] if "viseme" in e.lower()], stats["errors"]
    assert not page.problems, page.problems


async def test_designer_shows_persona_and_knowledge(browser: Any, ws_address: str) -> None:
    page = await _page(browser, f"http://{ws_address}/designer?character=jin&scene=demo")
    await page.click("#connect")
    await page.wait_for_selector("#text:not([disabled])", timeout=30_000)
    persona = await page.inner_text("#persona")
    assert "ramen cook" in persona, persona  # characters/jin/character.toml
    await page.fill("#text", QUESTION)
    await page.click("#send")
    await page.wait_for_function(
        "() => window.designerStats.turns >= 1 && window.designerStats.debugLoads >= 2",
        timeout=TURN_TIMEOUT_S * 1000,
    )
    debug = await page.evaluate("() => window.designerStats.lastDebug")
    turn = debug["last_turn"]
    assert turn["input_text"] == QUESTION, turn
    assert turn["recall"] is not None and turn["recall"]["knowledge"], turn["recall"]
    knowledge = await page.inner_text("#knowledge")
    assert turn["recall"]["knowledge"][0]["source"] in knowledge, knowledge
    assert await page.locator("#knowledge .hit").count() == len(turn["recall"]["knowledge"])
    # The demo scene: what Jin perceives and the graph itself.
    assert turn["perception"] and turn["perception"]["summary"], turn
    assert "counter" in await page.inner_text("#perception")
    assert "stall" in await page.inner_text("#graph")
    raw = await page.inner_text("#raw")
    assert "turnEnd" in raw and "sessionStart" in raw, raw[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "designer.png"), full_page=True)
    assert not page.problems, page.problems


async def test_pages_and_debug_endpoint_errors(ws_address: str) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/kiosk", "/designer"):
            async with http.get(f"http://{ws_address}{path}") as res:
                assert res.status == 200 and res.content_type == "text/html", path
        async with http.get(f"http://{ws_address}/web/kiosk.js") as res:
            assert res.status == 200 and "javascript" in res.content_type
        async with http.get(f"http://{ws_address}/web/../ws_gateway.py") as res:
            assert res.status in (403, 404)
        async with http.get(f"http://{ws_address}/v1/sessions/nope/debug") as res:
            assert res.status == 400
            assert "session id" in (await res.json())["error"]
        async with http.get(f"http://{ws_address}/v1/sessions/{'0' * 32}/debug") as res:
            assert res.status == 404
            assert "no open session" in (await res.json())["error"]
