"""Face and feeling: visemes over gRPC, emotion state, triggers, voices per character."""

from __future__ import annotations

import dataclasses
import itertools
import math
import uuid
from pathlib import Path

import pytest

from npc_runtime.characters import CharacterError, CharacterStore, load_character
from npc_runtime.client import Conversation, TurnResult, channel
from npc_runtime.emotion import (
    EmotionBook,
    EmotionModel,
    EmotionState,
    Mood,
    Stimulus,
    describe,
    shade_voice,
    trigger_stimulus,
)
from npc_runtime.runtime import Runtime
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.tts.piper_tts import VoiceSettings

ROOT = Path(__file__).resolve().parent.parent


def _start(character: str = "jin", **kw: object) -> pb.SessionStart:
    player = str(kw.pop("player_id", f"face-{uuid.uuid4().hex[:8]}"))
    return pb.SessionStart(character_id=character, player_id=player, **kw)  # type: ignore[arg-type]


def _kinds(result: TurnResult) -> list[str]:
    return [str(e.WhichOneof("event")) for e in result.events]


def _audio(result: TurnResult) -> list[pb.NpcAudio]:
    return [e.npc_audio for e in result.events if e.WhichOneof("event") == "npc_audio"]


# --- visemes over real gRPC --------------------------------------------------


def _assert_visemes_tile(chunks: list[pb.NpcAudio]) -> None:
    assert chunks
    for chunk in chunks:
        chunk_ms = 1000.0 * (len(chunk.pcm) // 2) / chunk.sample_rate_hz
        vs = list(chunk.visemes)
        assert vs, f"chunk {chunk.sequence} has no visemes"
        covered = sum(v.duration_ms for v in vs)
        # Whole milliseconds: a chunk of a few samples is covered to within 1 ms.
        tolerance = max(0.05 * chunk_ms, 1.0)
        assert abs(covered - chunk_ms) <= tolerance, (chunk.sequence, covered, chunk_ms)
        for a, b in itertools.pairwise(vs):
            assert a.start_ms + a.duration_ms <= b.start_ms, "visemes overlap"
        assert vs[-1].start_ms + vs[-1].duration_ms <= round(chunk_ms) + 1
        assert all(0.0 <= v.weight <= 1.0 for v in vs)


@pytest.mark.models
async def test_visemes_cover_the_audio_of_every_chunk(server_address: str) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(
            chan,
            _start(
                visemes=True,
                greet=True,
                unpaced_audio=True,
                output_audio=pb.AudioFormat(sample_rate_hz=24_000, channels=1),
            ),
        )
        await conv.wait_ready()
        greeting = await conv.collect_turn()
        conv.send_text("What soup do you have tonight?")
        reply = await conv.collect_turn()
        conv.close()
    for result in (greeting, reply):
        assert not result.errors, result.errors
        _assert_visemes_tile(_audio(result))
    # Jin's greeting says "coming": the lips close for the m.
    ids = {v.id for chunk in _audio(greeting) for v in chunk.visemes}
    assert pb.VISEME_PP in ids and pb.VISEME_SIL in ids and pb.VISEME_AA in ids
    total_ms = sum(1000.0 * (len(c.pcm) // 2) / c.sample_rate_hz for c in _audio(greeting))
    shown_ms = sum(v.duration_ms for c in _audio(greeting) for v in c.visemes)
    print(f"\ngreeting: {total_ms:.0f} ms of audio, {shown_ms} ms of visemes")


@pytest.mark.models
async def test_no_visemes_unless_asked(server_address: str) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(greet=True, unpaced_audio=True))
        await conv.wait_ready()
        result = await conv.collect_turn()
        conv.close()
    assert result.audio and all(not a.visemes for a in _audio(result))


# --- emotion over real gRPC --------------------------------------------------


@pytest.mark.models
async def test_emotion_arrives_before_the_first_audio_of_each_turn(server_address: str) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start("nova", greet=True, unpaced_audio=True))
        await conv.wait_ready()
        results = [await conv.collect_turn()]
        conv.send_text("Is a bigger GPU always faster?")
        results.append(await conv.collect_turn())
        conv.close()
    for result in results:
        kinds = _kinds(result)
        assert "emotion" in kinds and "npc_audio" in kinds
        first_emotion = kinds.index("emotion")
        assert first_emotion < kinds.index("npc_audio")
        assert first_emotion < kinds.index("npc_text")
        emotion = result.events[first_emotion].emotion
        assert emotion.turn_id == result.turn_id and 0.0 < emotion.intensity <= 1.0
    # Nova's baseline is joy: her scripted greeting shows it.
    assert results[0].emotion == pb.EMOTION_CATEGORY_JOY


@pytest.mark.models
async def test_robbery_trigger_angers_the_character_and_it_shows_in_the_next_turn(
    server_address: str,
) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(text_only=True))
        await conv.wait_ready()
        # player_stole: the built-in reaction (anger), and Jin's file does not make him
        # answer it at once, so the next turn is the player's.
        conv.send(pb.ClientEvent(trigger=pb.Trigger(name="player_stole")))
        ev = await conv.next(30)
        assert ev is not None and ev.WhichOneof("event") == "emotion"
        assert ev.emotion.turn_id == ""  # felt at once, outside any turn
        assert ev.emotion.category == pb.EMOTION_CATEGORY_ANGER
        assert ev.emotion.intensity >= 0.8 and ev.emotion.trust < 0
        conv.send_text("Hey Jin, how is it going?")
        result = await conv.collect_turn()
        conv.close()
    # Whatever the model picks for its line, a fresh robbery outweighs it.
    assert result.emotion == pb.EMOTION_CATEGORY_ANGER
    assert not result.errors


@pytest.mark.models
async def test_a_reacting_trigger_starts_a_turn_with_no_player_speech(server_address: str) -> None:
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(unpaced_audio=True))
        await conv.wait_ready()
        trigger = pb.Trigger(name="player_drew_weapon", parameters={"weapon": "knife"}, react=True)
        conv.send(pb.ClientEvent(trigger=trigger))
        result = await conv.collect_turn()
        conv.close()
    started = next(e.turn_started for e in result.events if e.WhichOneof("event") == "turn_started")
    assert started.cause == pb.TURN_CAUSE_TRIGGER and "knife" in started.input_text
    assert result.text.strip() and result.audio
    kinds = _kinds(result)
    assert kinds.index("emotion") < kinds.index("turn_started")  # the face reacted first
    turn_emotions = [
        e.emotion for e in result.events if e.WhichOneof("event") == "emotion" and e.emotion.turn_id
    ]
    assert turn_emotions and turn_emotions[0].category == pb.EMOTION_CATEGORY_FEAR


# --- the emotion model -------------------------------------------------------


@pytest.fixture(scope="module")
def jin() -> object:
    return load_character(ROOT / "characters" / "jin" / "character.toml")


def test_decay_returns_to_the_baseline(jin: object) -> None:
    from npc_runtime.characters import Character

    assert isinstance(jin, Character)
    model = EmotionModel(jin)
    half = jin.emotion.half_life_s
    angry = model.feel(model.initial(0.0), Stimulus("anger", 0.9, trust_delta=-0.3), 0.0)
    assert angry.category == "anger" and angry.intensity == pytest.approx(0.9)
    assert model.at(angry, half).intensity == pytest.approx(0.45)
    later = model.at(angry, 5 * half)
    assert later.category == jin.emotion.baseline
    assert later.intensity == pytest.approx(jin.emotion.intensity)
    assert later.trust == pytest.approx(-0.3)  # the relationship does not fade


def test_a_passing_smile_damps_but_does_not_replace_strong_anger(jin: object) -> None:
    from npc_runtime.characters import Character

    assert isinstance(jin, Character)
    model = EmotionModel(jin)
    angry = model.feel(model.initial(0.0), Stimulus("anger", 0.9), 0.0)
    after = model.feel(angry, Stimulus("joy", 0.6), 1.0)
    assert after.category == "anger" and after.intensity < angry.intensity
    overwhelmed = model.feel(after, Stimulus("fear", 0.95), 2.0)
    assert overwhelmed.category == "fear"


def test_emotion_book_keeps_one_state_per_character_and_player(jin: object) -> None:
    from npc_runtime.characters import Character

    assert isinstance(jin, Character)
    book = EmotionBook()
    book.feel(jin, "alice", Stimulus("anger", 0.9), now=100.0)
    assert book.current(jin, "alice", now=100.0).category == "anger"
    assert book.current(jin, "bob", now=100.0).category == jin.emotion.baseline
    book.forget("alice")
    assert book.current(jin, "alice", now=100.0).category == jin.emotion.baseline


def test_emotion_state_round_trips_through_a_store_record() -> None:
    state = EmotionState("fear", 0.7, -0.2, 0.1, 123.0)
    assert EmotionState.from_dict(state.as_dict()) == state
    assert EmotionState.from_dict({"emotion": "rage"}) is None
    assert EmotionState.from_dict({"emotion": "joy", "intensity": "lots"}) is None


def test_trigger_parameters_override_and_bad_ones_say_what_to_send() -> None:
    stimulus, _ = trigger_stimulus("player_looted_store", {})
    assert stimulus is not None and stimulus.category == "anger"
    stimulus, _ = trigger_stimulus("door_slammed", {"emotion": "surprise", "intensity": "0.9"})
    assert stimulus == Stimulus("surprise", 0.9)
    none, why = trigger_stimulus("weather_changed", {})
    assert none is None and "weather_changed" in why
    with pytest.raises(ValueError, match="intensity"):
        trigger_stimulus("player_looted_store", {"intensity": "high"})


def test_the_prompt_hears_about_a_mood_only_when_it_is_unusual(jin: object) -> None:
    from npc_runtime.characters import Character

    assert isinstance(jin, Character)
    model = EmotionModel(jin)
    assert describe(model.initial(0.0), model) == ""
    angry = EmotionState("anger", 0.9, trust=-0.5)
    line = describe(angry, model)
    assert "very angry" in line and "do not trust" in line


def test_the_mood_line_says_when_it_will_next_read_differently(jin: object) -> None:
    from npc_runtime.characters import Character

    assert isinstance(jin, Character)
    book = EmotionBook()
    mood = Mood(book, jin, "p1")
    assert mood.line_changes_in(now=1000.0) is None  # the baseline does not fade
    book.feel(jin, "p1", Stimulus("joy", 0.8), now=1000.0)
    half_life = jin.emotion.half_life_s
    # "very happy" until 0.8 has halved down to 0.75, "happy" until 0.4.
    first = mood.line_changes_in(now=1000.0)
    assert first is not None
    assert first == pytest.approx(half_life * math.log2(0.8 / 0.75), abs=0.05)
    model = EmotionModel(jin)
    before = book.current(jin, "p1", 1000.0 + first - 0.05)
    after = book.current(jin, "p1", 1000.0 + first + 0.01)
    assert "very happy" in describe(before, model)
    assert "very" not in describe(after, model) and "happy" in describe(after, model)
    second = mood.line_changes_in(now=1000.0 + first + 0.01)
    assert second == pytest.approx(half_life * math.log2(0.8 / 0.4) - first, abs=0.05)


# --- voices per character ----------------------------------------------------


def test_emotion_shades_the_voice_within_the_characters_bounds(jin: object) -> None:
    from npc_runtime.characters import Character

    assert isinstance(jin, Character)
    base = VoiceSettings(length_scale=1.15, noise_scale=0.5)
    bound = jin.voice.shading
    angry = shade_voice(base, jin.voice, EmotionState("anger", 1.0))
    sad = shade_voice(base, jin.voice, EmotionState("sadness", 1.0))
    assert angry.length_scale < base.length_scale < sad.length_scale  # anger is quicker
    for v in (angry, sad):
        assert abs(v.length_scale / base.length_scale - 1) <= bound + 1e-9
        assert abs(v.noise_scale / base.noise_scale - 1) <= bound + 1e-9
    calm = shade_voice(
        base, jin.voice.model_copy(update={"shading": 0.0}), EmotionState("anger", 1)
    )
    assert calm == base


@pytest.mark.models
async def test_two_characters_sharing_the_bundled_voice_sound_different(runtime: object) -> None:
    assert isinstance(runtime, Runtime)
    jin, nova = runtime.characters.get("jin"), runtime.characters.get("nova")
    assert jin.voice_model_path() == nova.voice_model_path()  # the one bundled voice
    line = "The night market opens at nine, so come early."
    durations = {}
    for c in (jin, nova):
        # Without piper's noise the durations are the voices' own, not a random draw
        # (noise_w varies phoneme lengths: one sample can swing by 20%).
        voice = dataclasses.replace(runtime.voice_settings(c), noise_scale=0.0, noise_w_scale=0.0)
        syn = await runtime.synthesizer(c).synthesize(line, voice)
        durations[c.id] = syn.duration_ms
    assert durations["jin"] > 1.08 * durations["nova"], durations
    assert runtime.voice_settings(jin).noise_scale != runtime.voice_settings(nova).noise_scale


@pytest.mark.models
def test_a_speaker_id_the_voice_lacks_fails_at_load_naming_the_file(
    runtime: object, tmp_path: Path
) -> None:
    assert isinstance(runtime, Runtime)
    folder = tmp_path / "mira"
    folder.mkdir()
    (folder / "character.toml").write_text(
        'name = "Mira"\npersona = "A quiet librarian who whispers."\n[voice]\nspeaker_id = 3\n'
    )
    store = CharacterStore.load(tmp_path)
    broken = dataclasses.replace(runtime, characters=store)
    with pytest.raises(CharacterError, match=r"mira/character.toml: field voice: .*speaker_id"):
        broken.check_voices()


def test_a_voice_without_its_config_file_fails_at_load(tmp_path: Path) -> None:
    folder = tmp_path / "mira"
    folder.mkdir()
    (folder / "voice.onnx").write_bytes(b"\0")
    (folder / "character.toml").write_text(
        'name = "Mira"\npersona = "A quiet librarian who whispers."\n'
        '[voice]\nmodel = "voice.onnx"\nlength_scale = 3.0\n'
    )
    with pytest.raises(CharacterError) as e:
        load_character(folder / "character.toml")
    assert "voice.length_scale" in str(e.value)
    (folder / "character.toml").write_text(
        'name = "Mira"\npersona = "A quiet librarian who whispers."\n'
        '[voice]\nmodel = "voice.onnx"\n'
    )
    with pytest.raises(CharacterError, match=r"voice.onnx.json"):
        load_character(folder / "character.toml")


@pytest.mark.models
async def test_forget_player_rpc_erases_the_relationship(
    runtime: object, server_address: str
) -> None:
    from npc_runtime.server.gen.npc.v1 import npc_pb2_grpc as pb_grpc

    assert isinstance(runtime, Runtime)
    jin = runtime.characters.get("jin")
    player = f"forget-{uuid.uuid4().hex[:8]}"
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(text_only=True, player_id=player, game_time_hours=12.5))
        await conv.wait_ready()
        conv.send(pb.ClientEvent(game_time=pb.GameTime(hours=13.0)))
        conv.send(pb.ClientEvent(trigger=pb.Trigger(name="player_stole")))
        ev = await conv.next(30)
        assert ev is not None and ev.emotion.category == pb.EMOTION_CATEGORY_ANGER
        conv.close()
        assert runtime.emotions.current(jin, player).category == "anger"
        stub = pb_grpc.NpcServiceStub(chan)
        await stub.ForgetPlayer(pb.ForgetPlayerRequest(player_id=player))
        assert runtime.emotions.current(jin, player).category == jin.emotion.baseline
        with pytest.raises(Exception, match="player_id is empty"):
            await stub.ForgetPlayer(pb.ForgetPlayerRequest())
        with pytest.raises(Exception, match="unknown character"):
            await stub.ForgetPlayer(pb.ForgetPlayerRequest(player_id=player, character_id="zed"))
