// A small Node.js client for the NPC runtime's gRPC API.
//
// It loads protos/npc/v1/npc.proto at run time with @grpc/proto-loader: nothing is
// generated, so the .proto in the repository is the whole contract. Messages use
// proto-loader's JavaScript mapping: lowerCamelCase field names, enums as their
// names ("TURN_CAUSE_TEXT"), bytes as Buffers, and the name of the field set in a
// oneof in `event` (e.g. `{ event: "npcAudio", npcAudio: { ... } }`).

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_PROTO = resolve(here, "../../../protos/npc/v1/npc.proto");
export const DEFAULT_ADDRESS = "127.0.0.1:50051";
const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** The npc.v1 package object (message types, NpcService) from the .proto file. */
export function loadProtocol(protoPath = DEFAULT_PROTO) {
  const definition = protoLoader.loadSync(protoPath, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).npc.v1;
}

/** A client for one server; `close()` it when done. */
export class NpcClient {
  constructor(address = DEFAULT_ADDRESS, { protoPath = DEFAULT_PROTO } = {}) {
    this.npc = loadProtocol(protoPath);
    this.stub = new this.npc.NpcService(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    });
  }

  /** Resolves once the channel is connected, or rejects with a hint after `timeoutMs`. */
  waitForReady(timeoutMs = 10_000) {
    return new Promise((ok, fail) => {
      this.stub.waitForReady(Date.now() + timeoutMs, (err) =>
        err
          ? fail(new Error(`cannot reach the server (${err.message}); start it with 'npc-runtime serve'`))
          : ok(),
      );
    });
  }

  listCharacters() {
    return new Promise((ok, fail) => {
      this.stub.listCharacters({}, (err, resp) => (err ? fail(err) : ok(resp.characters)));
    });
  }

  /** Open a Converse stream; `start` is a SessionStart ({ characterId, playerId, ... }). */
  converse(start) {
    return new Conversation(this.stub.converse(), start);
  }

  close() {
    this.stub.close();
  }
}

/** One Converse stream: write ClientEvents, read ServerEvents in order with next(). */
export class Conversation {
  constructor(call, start) {
    this.call = call;
    this.ready = null;
    this._events = [];
    this._waiters = [];
    this._ended = false;
    this._error = null;
    call.on("data", (event) => this._push(event));
    call.on("end", () => {
      this._ended = true;
      this._wake();
    });
    call.on("error", (err) => {
      // The stream's status: a refused SessionStart (INVALID_ARGUMENT, NOT_FOUND, ...)
      // or a message over the size limit (RESOURCE_EXHAUSTED).
      this._error = err;
      this._ended = true;
      this._wake();
    });
    this.send({ sessionStart: start });
  }

  send(clientEvent) {
    this.call.write(clientEvent);
  }

  sendText(text) {
    this.send({ textInput: { text } });
  }

  /** Stream PCM s16le mono (a Buffer) in `chunkMs` pieces; `realtime` paces it like a mic. */
  async streamPcm(pcm, rate, { chunkMs = 40, realtime = false } = {}) {
    const step = Math.floor((rate * chunkMs) / 1000) * 2;
    const started = Date.now();
    for (let i = 0, n = 0; i < pcm.length; i += step, n++) {
      this.send({ audioChunk: { pcm: pcm.subarray(i, i + step) } });
      if (realtime) {
        const due = started + (n + 1) * chunkMs;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      }
    }
  }

  /** End the utterance now (push-to-talk release, or the end of a recorded file). */
  audioEnd() {
    this.send({ audioEnd: {} });
  }

  /** Half-close: the server finishes the turn in flight, then ends the stream. */
  end() {
    this.call.end();
  }

  /** Drop the stream at once. */
  cancel() {
    this.call.cancel();
  }

  /** The next ServerEvent, or null when the stream ended; rejects with the stream's error. */
  next(timeoutMs = 120_000) {
    if (this._events.length) return Promise.resolve(this._events.shift());
    if (this._error) return Promise.reject(this._error);
    if (this._ended) return Promise.resolve(null);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        this._waiters = this._waiters.filter((w) => w.ok !== ok);
        fail(new Error(`no server event within ${timeoutMs} ms`));
      }, timeoutMs);
      this._waiters.push({ ok, fail, timer });
    });
  }

  async waitReady(timeoutMs = 30_000) {
    while (!this.ready) {
      const event = await this.next(timeoutMs);
      if (event === null) throw new Error("the stream ended before SessionReady");
      if (event.event === "error") throw new Error(`server error: ${event.error.message}`);
    }
    return this.ready;
  }

  /** Read events until a TurnEnd; returns what the client saw of the turn. */
  async collectTurn(timeoutMs = 120_000) {
    const turn = new TurnResult();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(100, deadline - Date.now()));
      if (event === null) return turn;
      turn.add(event);
      if (event.event === "turnEnd") return turn;
    }
  }

  _push(event) {
    if (event.event === "sessionReady") this.ready = event.sessionReady;
    const waiter = this._waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.ok(event);
    } else {
      this._events.push(event);
    }
  }

  _wake() {
    for (const w of this._waiters.splice(0)) {
      clearTimeout(w.timer);
      if (this._error) w.fail(this._error);
      else w.ok(null);
    }
  }
}

/** Everything a client saw of one NPC turn. */
export class TurnResult {
  constructor() {
    this.events = [];
    this.turnId = "";
    this.transcript = "";
    this.text = "";
    this.audio = [];
    this.sampleRate = 0;
    this.emotion = "";
    this.errors = [];
    this.end = null;
  }

  add(event) {
    this.events.push(event);
    const body = event[event.event];
    switch (event.event) {
      case "userTranscript":
        if (body.isFinal) this.transcript = body.text;
        break;
      case "turnStarted":
        this.turnId = body.turnId;
        break;
      case "npcText":
        this.text += body.delta;
        break;
      case "npcAudio":
        this.audio.push(body);
        this.sampleRate = body.sampleRateHz;
        break;
      case "emotion":
        this.emotion = body.category;
        break;
      case "error":
        this.errors.push(body);
        break;
      case "turnEnd":
        this.end = body;
        break;
      default:
    }
  }

  get pcm() {
    return Buffer.concat(this.audio.map((a) => a.pcm));
  }

  get audioMs() {
    return this.sampleRate ? (1000 * (this.pcm.length / 2)) / this.sampleRate : 0;
  }
}

/** PCM s16le mono from a .wav (16-bit PCM, mono) or a raw .s16le/.pcm file at `rate`. */
export function readPcm(path, rate = 16_000) {
  const data = readFileSync(path);
  if (data.subarray(0, 4).toString("ascii") !== "RIFF") return { pcm: data, rate };
  let offset = 12;
  let format = null;
  while (offset + 8 <= data.length) {
    const id = data.subarray(offset, offset + 4).toString("ascii");
    const size = data.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt ") {
      format = {
        audioFormat: data.readUInt16LE(body),
        channels: data.readUInt16LE(body + 2),
        rate: data.readUInt32LE(body + 4),
        bits: data.readUInt16LE(body + 14),
      };
    } else if (id === "data") {
      if (!format || format.audioFormat !== 1 || format.bits !== 16 || format.channels !== 1) {
        throw new Error(`${path}: only 16-bit PCM mono WAV is supported; convert it first`);
      }
      return { pcm: data.subarray(body, body + size), rate: format.rate };
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk; is it a WAV file?`);
}

/** A 16-bit PCM mono WAV file's bytes. */
export function wavBytes(pcm, rate) {
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write("WAVEfmt ", 8, "ascii");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "ascii");
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}
