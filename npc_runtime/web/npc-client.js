// The WebSocket side of a session: npc.v1 ClientEvent / ServerEvent as proto3 JSON
// text frames (docs/protocol.md, "WebSocket"). No protobuf library needed.

// An API key for servers that need one: open the page as /kiosk?token=KEY. It is
// forwarded on the socket (?token=) and as a Bearer header on the HTTP calls.
export const TOKEN = new URLSearchParams(location.search).get("token") || "";

export function authHeaders() {
  return TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
}

export function converseUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : "";
  return `${scheme}://${location.host}/v1/converse${query}`;
}

export async function listCharacters() {
  const res = await fetch("/v1/characters", { headers: authHeaders() });
  if (!res.ok) throw new Error(`GET /v1/characters: HTTP ${res.status}`);
  const body = await res.json();
  return body.characters || [];
}

export function bytesToBase64(bytes) {
  // String.fromCharCode in slices: spreading a whole chunk can overflow the stack.
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function base64ToBytes(b64) {
  const s = atob(b64 || "");
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The one key of a ServerEvent object: "npcAudio", "turnEnd", ... */
export function eventKind(ev) {
  return Object.keys(ev)[0] || "";
}

/**
 * One socket = one session. `onEvent(kind, body, raw)` gets every ServerEvent;
 * `onClose(code, reason)` once when the socket closes.
 */
export class NpcSession {
  constructor({ onEvent, onClose }) {
    this.onEvent = onEvent;
    this.onClose = onClose || (() => {});
    this.ws = null;
    this.sessionId = "";
    this.closed = false;
  }

  /** Open the socket and send SessionStart; resolves with SessionReady. */
  open(start) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(converseUrl());
      this.ws = ws;
      let ready = false;
      ws.onopen = () => this.send({ sessionStart: start });
      ws.onmessage = (msg) => {
        if (typeof msg.data !== "string") return; // we opened with JSON: answers are JSON
        const ev = JSON.parse(msg.data);
        const kind = eventKind(ev);
        if (kind === "sessionReady") {
          ready = true;
          this.sessionId = ev.sessionReady.sessionId;
          resolve(ev.sessionReady);
        } else if (!ready && kind === "error" && !ev.error.sessionAlive) {
          reject(new Error(ev.error.message));
        }
        this.onEvent(kind, ev[kind], ev);
      };
      ws.onclose = (e) => {
        this.closed = true;
        if (!ready) reject(new Error(`the server closed the socket (${e.code} ${e.reason})`));
        this.onClose(e.code, e.reason);
      };
    });
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(event) {
    if (this.isOpen) this.ws.send(JSON.stringify(event));
  }

  sendPcm(int16) {
    this.send({ audioChunk: { pcm: bytesToBase64(new Uint8Array(int16.buffer)) } });
  }

  close() {
    if (this.ws && !this.closed) {
      this.onClose = () => {};
      this.ws.close(1000, "client closed");
    }
  }
}
