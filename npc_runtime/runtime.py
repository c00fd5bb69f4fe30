"""The one place that wires concrete classes: settings → loaded models → Runtime.

Models are loaded once and shared by every session; per-conversation state
lives in Session objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .asr.transcriber import WhisperTranscriber
from .asr.vad import SileroVad
from .background import Background
from .characters import Character, CharacterError, CharacterStore
from .config import Settings
from .emotion import EmotionBook, EmotionState
from .llm.base import ChatMessage, GenerationRequest, LLMBackend, LLMStream, StreamState
from .llm.embedded import EmbeddedLLM
from .llm.openai_compat import OpenAICompatLLM
from .llm.primer import InFlight, PrimeStats
from .llm.prompt import Exchange, build_messages, reply_schema
from .memory import Memory
from .openmp import apply_wait_policy
from .scene.registry import SceneRegistry
from .telemetry import Telemetry
from .tts.piper_tts import PiperSynthesizer, VoiceRegistry, VoiceSettings
from .tts.visemes import VisemeTable
from .world import WorldStore

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


# A reflection gives way to conversations this many times before it runs regardless.
REFLECT_ATTEMPTS = 5


def _generations(llm: LLMBackend) -> int:
    """Generations running in the engine (0 for backends that do not say)."""
    return int(getattr(llm, "active_generations", 0))


class HistoryCache(OrderedDict[str, list[Exchange]]):
    """Finished sessions' histories for resume_session_id, most recent kept."""

    def __init__(self, capacity: int = 1000) -> None:
        super().__init__()
        self.capacity = capacity

    def __setitem__(self, key: str, value: list[Exchange]) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


@dataclass
class SpeculationStats:
    """Speculative turns started at a pause, across all sessions."""

    started: int = 0
    used: int = 0  # the pause was the end: its transcript (and answer) went out
    discarded: int = 0  # the player went on, or another turn came first
    # Turns whose recall was made on an interim transcript, before the end of speech.
    early_recalls: int = 0


def load_llm(settings: Settings, progress: Progress | None = None) -> LLMBackend:
    """The configured language model backend (blocking: the embedded one loads weights)."""
    if settings.llm.backend == "scripted":
        from .llm.scripted import ScriptedLLM, canned_reply

        return ScriptedLLM(canned_reply)
    if settings.llm.backend == "openai":
        if not settings.llm.base_url:
            raise ValueError(
                "llm.backend is 'openai' but llm.base_url is empty: set NPC_LLM__BASE_URL, "
                "e.g. http://localhost:8000/v1"
            )
        return OpenAICompatLLM(
            settings.llm.base_url,
            settings.llm.model,
            api_key=settings.llm.api_key or None,
            timeout_s=settings.llm.timeout_s,
        )
    return EmbeddedLLM.load(
        settings.llm.model_path or None,
        n_ctx=settings.llm.n_ctx,
        n_parallel=settings.llm.n_parallel,
        n_threads=settings.llm.n_threads,
        n_threads_batch=settings.llm.n_threads_batch,
        n_batch=settings.llm.n_batch,
        prefill=settings.llm.prefill_reply,
        flash_attn=settings.llm.flash_attn,
        requantize=settings.llm.requantize,
        cache_dir=Path(settings.llm.requantize_cache_dir).expanduser()
        if settings.llm.requantize_cache_dir
        else None,
        progress=progress,
    )


@dataclass
class Runtime:
    settings: Settings
    characters: CharacterStore
    vad: SileroVad
    transcriber: WhisperTranscriber
    llm: LLMBackend
    voices: VoiceRegistry
    visemes: VisemeTable
    # None only for runtimes built by hand (unit tests); create() always opens it.
    memory: Memory | None = None
    histories: HistoryCache = field(default_factory=HistoryCache)
    emotions: EmotionBook = field(default_factory=EmotionBook)
    speculations: SpeculationStats = field(default_factory=SpeculationStats)
    primes: PrimeStats = field(default_factory=PrimeStats)
    primes_in_flight: InFlight = field(default_factory=InFlight)
    # Sessions whose player is mid-utterance: their turn's prompt is being read ahead.
    players_speaking: int = 0
    # Scene graphs by world id, shared by the sessions (NPCs) in each world.
    worlds: WorldStore = field(default_factory=WorldStore)
    # Running scenes by (world, place): players there speak into them (RunScene).
    scenes: SceneRegistry = field(default_factory=SceneRegistry)
    # Memory writes queued by sessions; they outlive the session (see background.py).
    writes: Background = field(default_factory=lambda: Background("memory"))
    load_ms: dict[str, float] = field(default_factory=dict)
    # Metrics, traces and the conversation log (create() configures them from settings).
    telemetry: Telemetry = field(default_factory=Telemetry)

    @classmethod
    async def create(cls, settings: Settings, progress: Progress | None = None) -> Runtime:
        say = progress or (lambda _msg: None)
        load_ms: dict[str, float] = {}
        # Before any engine loads: libgomp reads it once, at load.
        apply_wait_policy(settings.server.omp_wait_policy)

        def timed(name: str, t0: float) -> None:
            load_ms[name] = (time.perf_counter() - t0) * 1000.0
            say(f"{name} ready in {load_ms[name] / 1000:.1f} s")

        characters = CharacterStore.load(settings.characters_dir)
        say(f"characters: {', '.join(characters.ids())}")
        t0 = time.perf_counter()
        say("loading voice activity detector")
        vad = await asyncio.to_thread(SileroVad)
        timed("vad", t0)
        t0 = time.perf_counter()
        say("loading speech recognition (Whisper)")
        transcriber = await asyncio.to_thread(
            WhisperTranscriber.load,
            settings.asr.model_path or None,
            settings.asr.cpu_threads,
            settings.asr.window_s,
        )
        timed("asr", t0)
        t0 = time.perf_counter()
        say(
            f"using OpenAI-compatible LLM at {settings.llm.base_url}"
            if settings.llm.backend == "openai"
            else "loading language model (embedded llama.cpp)"
        )
        llm = await asyncio.to_thread(load_llm, settings, say)
        timed("llm", t0)
        t0 = time.perf_counter()
        say("loading voices (piper)")
        voices = VoiceRegistry(settings.tts.threads)
        paths = {c.voice_model_path() for c in characters.characters.values()}
        if settings.tts.default_voice:
            paths.add(settings.tts.default_voice)
        for path in sorted(paths, key=lambda p: p or ""):
            await voices.aget(path, settings.tts.alignments)
        visemes = VisemeTable.load(
            Path(settings.tts.viseme_table) if settings.tts.viseme_table else None
        )
        timed("tts", t0)
        t0 = time.perf_counter()
        say("starting memory (Redis) and indexing knowledge")
        memory = await Memory.open(settings)
        try:
            for character in characters.characters.values():
                reports = await memory.ingest(character)
                changed = sum(len(r.added) + len(r.replaced) + len(r.removed) for r in reports)
                chunks = sum(r.chunks for r in reports)
                say(f"knowledge of {character.id}: {chunks} chunks, {changed} documents updated")
        except BaseException:
            await memory.close()
            raise
        timed("memory", t0)
        runtime = cls(
            settings,
            characters,
            vad,
            transcriber,
            llm,
            voices,
            visemes,
            memory=memory,
            emotions=EmotionBook(),
            load_ms=load_ms,
            telemetry=Telemetry.from_settings(settings),
        )
        runtime.emotions.loader = runtime._load_feeling
        runtime.emotions.saver = runtime._save_feeling
        memory.reflect = runtime.reflect
        runtime.check_voices()
        t0 = time.perf_counter()
        say("warming up")
        await runtime.warmup()
        timed("warmup", t0)
        return runtime

    def voice_settings(self, character: Character) -> VoiceSettings:
        v = character.voice
        return VoiceSettings(
            model_path=character.voice_model_path(),
            speaker_id=v.speaker_id,
            length_scale=v.length_scale,
            noise_scale=v.noise_scale,
            noise_w_scale=v.noise_w_scale,
            volume=v.volume,
        )

    def check_voices(self) -> None:
        """Every character's voice settings fit its loaded voice (a speaker id the
        model has), so a wrong file fails at start-up, not in a player's turn."""
        for character in self.characters.characters.values():
            try:
                self.synthesizer(character).check(self.voice_settings(character))
            except ValueError as e:
                raise CharacterError(
                    f"{character.folder / 'character.toml'}: field voice: {e}"
                ) from None

    def synthesizer(self, character: Character) -> PiperSynthesizer:
        return self.voices.get(character.voice_model_path(), self.settings.tts.alignments)

    async def warmup(self) -> None:
        """Run every model once and cache each character's prompt prefix, so the
        first player's first turn is as fast as the hundredth."""
        await self.transcriber.warmup()
        order = self.settings.llm.reply_order
        for character in self.characters.characters.values():
            request = GenerationRequest(
                messages=build_messages(character, [], "Hello.", order=order),
                json_schema=reply_schema(self.settings.llm.max_say_chars, None, order),
                max_tokens=8,
            )
            await self.llm.warmup(request)
            synth = self.synthesizer(character)
            await synth.synthesize("Hello there.", self.voice_settings(character))

    async def forget_player(self, player_id: str, character_id: str | None = None) -> int:
        """Erase what this runtime holds about a player; the number of stored keys removed.

        Raises ConnectionError when the memory store is down: a forget must not
        silently leave data behind."""
        # Writes queued by the player's last turns land first, or one finishing after
        # the delete (embedding takes a moment) would store them again.
        await self.writes.settle(timeout=10.0)
        await self.emotions.saves.settle(timeout=10.0)
        self.emotions.forget(player_id, character_id)
        if self.memory is None:
            return 0
        if not self.memory.available:
            raise ConnectionError("Redis is unreachable")
        return await self.memory.forget_player(player_id, character_id)

    async def reflect(self, prompt: str) -> str:
        """The LLM writes a short higher-level memory (used by the memory store)."""
        request = GenerationRequest(
            messages=[
                ChatMessage(
                    "system",
                    "You summarise what a game character has learned about a player. "
                    "Answer with one short sentence in the first person.",
                ),
                ChatMessage("user", prompt),
            ],
            max_tokens=60,
            temperature=0.3,
        )
        # Background work yields to conversations: on two cores a reflection's prompt
        # and 60 tokens next to a turn cost that turn seconds. Wait for the engine to
        # be quiet, and give way (cancel, retry later) when a player speaks or a turn
        # or priming starts, also while the engine still reads the prompt (~3 s).
        for attempt in range(REFLECT_ATTEMPTS):
            await self._llm_quiet()
            text = ""
            async with self.llm.stream(request) as stream:
                last = attempt + 1 == REFLECT_ATTEMPTS
                watch = None if last else asyncio.create_task(self._give_way(stream))
                try:
                    async for delta in stream:
                        text += delta
                finally:
                    if watch is not None:
                        watch.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await watch
            if stream.state is not StreamState.CANCELLED:
                return text.strip()
        return ""  # unreachable: the last attempt never gives way

    async def _give_way(self, stream: LLMStream, every_s: float = 0.05) -> None:
        """Cancel a background `stream` once the engine is wanted for a conversation."""
        # Polled: the engine's generation count and the speaking players have no
        # event of their own to wait on.
        while True:
            if _generations(self.llm) > 1 or self.players_speaking > 0:
                await stream.cancel()
                return
            await asyncio.sleep(every_s)

    async def _llm_quiet(self, quiet_s: float = 0.5, longest_s: float = 120.0) -> None:
        """Until the engine has run nothing and no player has spoken for `quiet_s` (at
        most `longest_s`): typically while an NPC's reply plays."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + longest_s
        quiet_since = loop.time()
        while loop.time() < deadline:
            if _generations(self.llm) > 0 or self.players_speaking > 0:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= quiet_s:
                return
            await asyncio.sleep(0.1)

    async def _load_feeling(self, character_id: str, player_id: str) -> EmotionState | None:
        if self.memory is None:
            return None
        rel = await self.memory.relationship(character_id, player_id)
        if not rel["updated_at"]:
            return None  # never stored: the character's baseline
        return EmotionState.from_dict(dict(rel))

    async def _save_feeling(self, character_id: str, player_id: str, state: EmotionState) -> None:
        if self.memory is not None:
            await self.memory.set_relationship(
                character_id,
                player_id,
                trust=state.trust,
                affinity=state.affinity,
                emotion=state.category,
                intensity=state.intensity,
                updated_at=state.at,
            )

    async def settle(self, timeout: float | None = None) -> bool:
        """Wait for every queued memory and feeling write to reach the store."""
        done = await self.writes.settle(timeout)
        done = await self.emotions.saves.settle(timeout) and done
        if self.memory is not None:
            await self.memory.wait_idle()
        return done

    async def aclose(self) -> None:
        if not await self.settle(timeout=10.0):
            log.warning("shutdown: some memory writes did not finish within 10 s")
        if self.memory is not None:
            await self.memory.close()
        await self.llm.aclose()
        self.telemetry.close()
