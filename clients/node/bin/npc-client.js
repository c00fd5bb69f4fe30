#!/usr/bin/env node
// npc-client: talk to an NPC runtime server from Node.js.
//
//   npc-client characters
//   npc-client text jin "What's good tonight?"
//   npc-client voice jin question.wav -o reply.wav    (or a raw .s16le file with --rate)
//
// Options: --address HOST:PORT (default 127.0.0.1:50051, or $NPC_ADDRESS), --player ID,
// --rate HZ (input rate of a raw PCM file, default 16000), -o FILE (reply WAV).
// Exit codes: 0 ok, 1 the turn failed, 2 bad usage, 3 server unreachable.

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { DEFAULT_ADDRESS, NpcClient, readPcm, wavBytes } from "../lib/npc.js";

const USAGE = `usage: npc-client [--address HOST:PORT] characters
       npc-client [--address HOST:PORT] text CHARACTER LINE
       npc-client [--address HOST:PORT] voice CHARACTER FILE [--rate HZ] [-o reply.wav]`;

function printTurn(character, turn) {
  for (const err of turn.errors) console.error(`[error ${err.code}] ${err.message}`);
  if (turn.transcript) console.log(`you said: ${turn.transcript}`);
  console.log(`${character}: ${turn.text}`);
  if (turn.end) {
    const t = turn.end.timings;
    console.log(
      `timings: first audio sent at ${Math.round(t.firstAudioSentAtMs)} ms, total ${Math.round(t.totalMs)} ms`,
    );
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      address: { type: "string", default: process.env.NPC_ADDRESS || DEFAULT_ADDRESS },
      player: { type: "string", default: "node-client" },
      rate: { type: "string", default: "16000" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, character, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const client = new NpcClient(values.address);
  try {
    try {
      await client.waitForReady();
    } catch (err) {
      console.error(`error: ${err.message} or pass --address`);
      return 3;
    }
    if (command === "characters") {
      for (const c of await client.listCharacters()) console.log(`${c.id.padEnd(12)} ${c.name}`);
      return 0;
    }
    if (!character || !arg || !["text", "voice"].includes(command)) {
      console.error(USAGE);
      return 2;
    }
    let audio = null;
    if (command === "voice") {
      try {
        audio = readPcm(arg, Number(values.rate));
      } catch (err) {
        console.error(`error: cannot read ${arg}: ${err.message}`);
        return 2;
      }
    }
    const conv = client.converse({
      characterId: character,
      playerId: values.player,
      inputAudio: { sampleRateHz: audio ? audio.rate : 16000, channels: 1 },
      textOnly: command === "text" && !values.output,
      // Rendering to a file or the terminal: no need to wait for playback pace.
      unpacedAudio: true,
    });
    await conv.waitReady();
    if (audio) {
      await conv.streamPcm(audio.pcm, audio.rate);
      conv.audioEnd();
    } else {
      conv.sendText(arg);
    }
    const turn = await conv.collectTurn();
    conv.end();
    printTurn(character, turn);
    if (values.output && turn.audio.length) {
      writeFileSync(values.output, wavBytes(turn.pcm, turn.sampleRate));
      console.log(`reply audio: ${values.output} (${(turn.audioMs / 1000).toFixed(1)} s)`);
    }
    return turn.end ? 0 : 1;
  } catch (err) {
    // gRPC status errors carry details, e.g. the known character ids for NOT_FOUND.
    console.error(`error: ${err.details || err.message}`);
    return err.code === 3 || err.code === 5 ? 2 : 1;
  } finally {
    client.close();
  }
}

process.exitCode = await main();
