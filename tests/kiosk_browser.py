"""Headless Debian chromium driven by playwright, for tests/test_kiosk.py and
scripts/screenshots.py. Playwright's own browser download is never used."""

from __future__ import annotations

import os
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SETUP_CHROMIUM = ROOT / "scripts" / "setup-chromium.sh"
CHROMIUM = "/usr/bin/chromium"
CANNOT_INSTALL = 3  # setup-chromium.sh: not root, or no apt-get

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Grant the microphone without a prompt; the "microphone" plays a WAV file, looped.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


class ChromiumMissing(RuntimeError):
    def __init__(self, message: str, can_install: bool) -> None:
        super().__init__(message)
        self.can_install = can_install


def ensure_chromium() -> str:
    """The chromium binary, installed from Debian's packages when missing (as root)."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    done = subprocess.run([str(SETUP_CHROMIUM)], capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not os.path.exists(CHROMIUM):
        raise ChromiumMissing(
            "the browser tests need chromium: apt-get install -y --no-install-recommends "
            f"chromium (scripts/setup-chromium.sh said: {done.stderr.strip()[-500:]})",
            can_install=done.returncode != CANNOT_INSTALL,
        )
    return CHROMIUM


def write_wav(path: Path, audio: np.ndarray, rate: int) -> Path:
    """float32 mono → 16-bit PCM WAV, the format chrome's fake capture reads."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


async def launch(playwright: Any, user_data_dir: Path, mic_wav: Path | None = None) -> Any:
    """A persistent context (a fresh profile in `user_data_dir`) with the fake mic."""
    args = list(FLAGS)
    if mic_wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={mic_wav}")
    return await playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=ensure_chromium(),
        headless=True,
        args=args,
        viewport={"width": 1280, "height": 800},
    )
