"""Take docs/kiosk.png and docs/designer.png: the runtime and its gateway in this
process, headless Debian chromium (as tests/test_kiosk.py drives it) whose microphone
plays a synthesised question.

    .venv/bin/python scripts/screenshots.py [--out docs] [--character jin]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the browser set-up is shared with the tests

from kiosk_browser import launch, write_wav  # noqa: E402

QUESTION = "What is the best ramen in the city?"
RATE = 48_000
TIMEOUT_S = 180.0


async def _question_wav(folder: Path) -> Path:
    from npc_runtime.audio import resample
    from npc_runtime.tts.piper_tts import PiperSynthesizer, VoiceSettings

    synth = await PiperSynthesizer.aload(None, alignments=False)
    syn = await synth.synthesize(QUESTION, VoiceSettings(noise_scale=0.0, noise_w_scale=0.0))
    voice = resample(syn.audio, syn.sample_rate, RATE)
    # The greeting plays first; the question comes after it, then a long silence
    # (chrome loops the file).
    lead, tail = np.zeros(RATE * 6, np.float32), np.zeros(RATE * 60, np.float32)
    return write_wav(folder / "question.wav", np.concatenate([lead, voice, tail]), RATE)


async def _wait(page: Any, js: str, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not await page.evaluate(js):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def _kiosk(context: Any, base: str, character: str, out: Path) -> None:
    page = await context.new_page()
    await page.goto(f"{base}/kiosk?character={character}")
    await page.wait_for_selector("body[data-ready='1']")
    await page.click("#overlay-start")
    # Mid-answer, mouth open: after the question's turn has said a few words.
    await _wait(
        page,
        """() => { const s = window.kioskStats;
            const npc = [...document.querySelectorAll('.line.npc .text')].pop();
            return s.turnsStarted >= 2 && s.playing && npc && npc.textContent.length > 60
              && Number(document.getElementById('mouth').dataset.open) > 0.3; }""",
        "the answer to the question",
    )
    await page.screenshot(path=str(out / "kiosk.png"))
    await page.close()


async def _designer(context: Any, base: str, character: str, out: Path) -> None:
    page = await context.new_page()
    await page.goto(f"{base}/designer?character={character}&scene=demo")
    await page.wait_for_selector("body[data-ready='1']")
    await page.click("#connect")
    await page.wait_for_selector("#text:not([disabled])")
    await page.fill("#text", QUESTION)
    await page.click("#send")
    await _wait(page, "() => window.designerStats.turns >= 1", "the designer's turn")
    await _wait(page, "() => window.designerStats.debugLoads >= 2", "the debug view")
    await page.screenshot(path=str(out / "designer.png"), full_page=True)
    await page.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--character", default="jin")
    args = parser.parse_args()

    from playwright.async_api import async_playwright

    from npc_runtime.config import load_settings
    from npc_runtime.runtime import Runtime
    from npc_runtime.server.ws_gateway import start_gateway

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runtime = await Runtime.create(load_settings(data_dir=folder / "data"))
        gateway, port = await start_gateway(runtime, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{port}"
        try:
            wav = await _question_wav(folder)
            async with async_playwright() as pw:
                context = await launch(pw, folder / "profile", wav)
                try:
                    args.out.mkdir(parents=True, exist_ok=True)
                    await _kiosk(context, base, args.character, args.out)
                    await _designer(context, base, args.character, args.out)
                finally:
                    await context.close()
        finally:
            await gateway.stop(1)
            await runtime.aclose()
    print(f"wrote {args.out / 'kiosk.png'} and {args.out / 'designer.png'}")


if __name__ == "__main__":
    asyncio.run(main())
