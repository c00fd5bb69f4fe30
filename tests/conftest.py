"""Shared fixtures: one real runtime (real models) and one real gRPC server per test run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
async def runtime() -> AsyncIterator[object]:
    from npc_runtime.config import load_settings
    from npc_runtime.runtime import Runtime

    settings = load_settings(data_dir=ARTIFACTS / "data")
    rt = await Runtime.create(settings)
    yield rt
    await rt.aclose()


@pytest.fixture(scope="session")
async def server_address(runtime: object) -> AsyncIterator[str]:
    from npc_runtime.runtime import Runtime
    from npc_runtime.server.service import start_server

    assert isinstance(runtime, Runtime)
    server, port = await start_server(runtime, "127.0.0.1", 0)
    yield f"127.0.0.1:{port}"
    await server.stop(1)


@pytest.fixture(scope="session")
async def speech() -> object:
    """speak(text, rate) → float32 speech from the real piper voice at `rate`."""
    from npc_runtime.audio import resample
    from npc_runtime.tts.piper_tts import PiperSynthesizer, VoiceSettings

    synth = await PiperSynthesizer.aload(None, alignments=False)

    async def speak(text: str, rate: int = 16_000) -> np.ndarray:
        # No noise: piper is then deterministic, and so are the transcripts.
        syn = await synth.synthesize(text, VoiceSettings(noise_scale=0.0, noise_w_scale=0.0))
        return resample(syn.audio, syn.sample_rate, rate)

    return speak


@pytest.fixture(scope="session")
async def ws_gateway(runtime: object) -> AsyncIterator[object]:
    """The WebSocket gateway on the shared runtime, on a free port."""
    from npc_runtime.runtime import Runtime
    from npc_runtime.server.ws_gateway import start_gateway

    assert isinstance(runtime, Runtime)
    gateway, _port = await start_gateway(runtime, "127.0.0.1", 0)
    yield gateway
    await gateway.stop(1)


@pytest.fixture(scope="session")
def ws_address(ws_gateway: object) -> str:
    """host:port of the gateway; the Converse socket is ws://{ws_address}/v1/converse."""
    from npc_runtime.server.ws_gateway import Gateway

    assert isinstance(ws_gateway, Gateway)
    return f"127.0.0.1:{ws_gateway.port}"
