// The Node.js client against a live server, with the real models.
//
//   NPC_ADDRESS=127.0.0.1:50051 \
//   NPC_SPEECH_PCM=question.s16le NPC_SPEECH_RATE=16000 NPC_SPEECH_WORDS=axe,table \
//   node --test test/
//
// NPC_SPEECH_PCM is PCM s16le mono speech (or a WAV); NPC_SPEECH_WORDS are words its
// transcript must contain. tests/test_node_client.py sets all of them.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { NpcClient, readPcm } from "../lib/npc.js";

const address = process.env.NPC_ADDRESS;
const speechPath = process.env.NPC_SPEECH_PCM;
const skip = address ? false : "set NPC_ADDRESS to a running server (host:port)";
const here = dirname(fileURLToPath(import.meta.url));

function assertWholeTurn(turn) {
  assert.deepEqual(turn.errors, []);
  assert.ok(turn.turnId, "no TurnStarted");
  assert.ok(turn.text.trim(), "no NpcText");
  assert.ok(turn.end, "no TurnEnd");
  assert.equal(turn.end.turnId, turn.turnId);
  assert.equal(turn.end.interrupted, false);
  // Every event of the turn carries its id; audio sequence numbers count from 0.
  const kinds = turn.events.map((e) => e.event);
  const emotion = kinds.indexOf("emotion");
  assert.ok(emotion >= 0 && emotion < kinds.indexOf("npcText"), `emotion first: ${kinds}`);
  assert.ok(turn.audio.length > 0, "no NpcAudio");
  assert.deepEqual(
    turn.audio.map((a) => a.sequence),
    turn.audio.map((_, i) => i),
  );
  for (const a of turn.audio) {
    assert.equal(a.turnId, turn.turnId);
    assert.ok(Buffer.isBuffer(a.pcm) && a.pcm.length % 2 === 0);
  }
}

describe("NPC runtime over gRPC from Node.js", { skip }, () => {
  let client;
  before(async () => {
    client = new NpcClient(address);
    await client.waitForReady(30_000);
  });
  after(() => client?.close());

  test("lists the characters", async () => {
    const ids = (await client.listCharacters()).map((c) => c.id);
    assert.ok(ids.includes("jin") && ids.includes("nova"), ids.join(","));
  });

  test("a text turn streams text, emotion, audio and TurnEnd", async () => {
    const conv = client.converse({
      characterId: "nova",
      outputAudio: { sampleRateHz: 16000, channels: 1 },
      unpacedAudio: true,
    });
    const ready = await conv.waitReady();
    assert.equal(ready.outputAudio.sampleRateHz, 16000);
    conv.sendText("Which graphics card should I buy for ray tracing?");
    const turn = await conv.collectTurn(180_000);
    conv.end();
    assertWholeTurn(turn);
    assert.equal(turn.sampleRate, 16000);
    assert.equal(turn.events.find((e) => e.event === "turnStarted").turnStarted.cause, "TURN_CAUSE_TEXT");
    assert.equal(turn.end.timings.asrMs, 0);
  });

  test("a voice turn returns the transcript, text, audio and TurnEnd", { skip: !speechPath && "set NPC_SPEECH_PCM" }, async () => {
    const { pcm, rate } = readPcm(speechPath, Number(process.env.NPC_SPEECH_RATE || 16000));
    const conv = client.converse({
      characterId: "jin",
      inputAudio: { sampleRateHz: rate, channels: 1, encoding: "AUDIO_ENCODING_PCM_S16LE" },
      unpacedAudio: true,
    });
    await conv.waitReady();
    await conv.streamPcm(pcm, rate);
    conv.audioEnd(); // the end of the file is the end of the utterance
    const turn = await conv.collectTurn(180_000);
    conv.end();
    const words = (process.env.NPC_SPEECH_WORDS || "").split(",").filter(Boolean);
    for (const w of words) assert.ok(turn.transcript.toLowerCase().includes(w), turn.transcript);
    assert.ok(turn.transcript, "no UserTranscript");
    assertWholeTurn(turn);
    assert.ok(turn.end.timings.asrMs > 0);
  });

  test("an unknown character is NOT_FOUND with the known ids", async () => {
    const conv = client.converse({ characterId: "bob" });
    await assert.rejects(conv.next(30_000), (err) => {
      assert.equal(err.code, 5);
      assert.match(err.details, /jin/);
      return true;
    });
  });

  test("the CLI runs a text turn", async () => {
    const cli = resolve(here, "../bin/npc-client.js");
    const run = spawnSync(process.execPath, [cli, "--address", address, "text", "jin", "Are you open?"], {
      encoding: "utf8",
      timeout: 180_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^jin: \S/m);
  });
});
