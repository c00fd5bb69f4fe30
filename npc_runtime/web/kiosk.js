// The kiosk page: talk to a character from the browser microphone.
// `/` has developer controls; `/kiosk?character=jin` is full screen, large type, and
// greets the next visitor after a while without anyone talking.

import { Mic, MIC_RATE, Player } from "./audio.js";
import { emotionName, Face } from "./face.js";
import { listCharacters, NpcSession } from "./npc-client.js";
import { exampleScene } from "./scene-example.js";

const params = new URLSearchParams(location.search);
const KIOSK = location.pathname.replace(/\/+$/, "") === "/kiosk";
// Seconds without speech or a turn before the kiosk starts over with a greeting.
const IDLE_S = Math.max(10, Number(params.get("idle")) || 45);
const PROGRESS_EVERY_MS = 250;
// Counts of what really happened, for tests and for a glance in the console.
const stats = {
  sessions: 0,
  audioChunksSent: 0,
  chunksReceived: 0,
  chunksPlayed: 0,
  visemesReceived: 0,
  mouthMoves: 0,
  maxMouthOpen: 0,
  turnsStarted: 0,
  turnsEnded: 0,
  bargeIns: 0,
  playing: false,
  progressSent: 0,
  actions: 0,
  errors: [],
  lastTimings: null,
};
window.kioskStats = stats;

const $ = (id) => document.getElementById(id);
const ui = {
  character: $("character"),
  greet: $("greet"),
  scene: $("scene"),
  start: $("start"),
  stop: $("stop"),
  status: $("status"),
  talk: $("talk"),
  hint: $("hint"),
  transcript: $("transcript"),
  textForm: $("text-form"),
  text: $("text"),
  actions: $("actions"),
  timings: $("timings"),
  emotion: $("emotion"),
  level: $("level"),
  overlay: $("overlay"),
  overlayStart: $("overlay-start"),
};

const face = new Face($("face"));
let characters = [];
let ctx = null;
let mic = null;
let player = null;
let session = null;
let talking = false; // push-to-talk button held
let currentTurn = "";
const ending = new Map(); // turnId → TurnEnd seen, audio may still be playing
const npcLines = new Map(); // turnId → transcript element
let pendingUser = null; // "…" line between SpeechStarted and UserTranscript
let lastActivity = performance.now();
let lastOpen = 0;

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function setStatus(text) {
  ui.status.textContent = text;
  document.body.dataset.status = text;
}

function line(who, text) {
  const p = document.createElement("p");
  p.className = `line ${who}`;
  const name = document.createElement("span");
  name.className = "who";
  name.textContent = who === "user" ? "You" : characterName();
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  p.append(name, body);
  ui.transcript.appendChild(p);
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
  return p;
}

function characterName() {
  const c = characters.find((x) => x.id === ui.character.value);
  return c ? c.name : ui.character.value;
}

function touch() {
  lastActivity = performance.now();
}

// --- the session -------------------------------------------------------------------

async function connect({ greet }) {
  if (session) session.close();
  if (player) player.stop();
  ending.clear();
  currentTurn = "";
  const characterId = ui.character.value;
  if (!characterId) throw new Error("no character to talk to: the server lists none");
  const start = {
    characterId,
    // Kiosk visitors are strangers: anonymous, nothing remembered past the session.
    playerId: "",
    inputAudio: { sampleRateHz: MIC_RATE },
    // The context's own rate: chunks play without resampling in the browser.
    outputAudio: { sampleRateHz: Math.min(48000, Math.max(8000, ctx.sampleRate)) },
    visemes: true,
    greet,
    metadata: { client: KIOSK ? "kiosk" : "web", userAgent: navigator.userAgent.slice(0, 200) },
  };
  if (mode() === "push-to-talk") start.endpointing = { pushToTalkOnly: true };
  if (ui.scene.checked) start.scene = exampleScene(characterId, characterName());
  const s = new NpcSession({ onEvent: (kind, body) => onEvent(s, kind, body), onClose });
  session = s;
  setStatus("connecting…");
  await s.open(start);
  stats.sessions++;
  setStatus("listening");
  ui.talk.disabled = mode() !== "push-to-talk";
  ui.talk.hidden = mode() !== "push-to-talk";
  ui.stop.disabled = false;
  ui.hint.textContent =
    mode() === "push-to-talk" ? "Hold the button (or Space) while you talk" : "Just talk";
  touch();
}

function onClose(code, reason) {
  setStatus(`disconnected (${code}${reason ? ` ${reason}` : ""})`);
  ui.talk.disabled = true;
  if (player) player.stop();
}

function onEvent(s, kind, ev) {
  if (s !== session) return; // a socket being replaced
  switch (kind) {
    case "sessionReady":
      document.body.dataset.sessionId = ev.sessionId;
      break;
    case "speechStarted":
      touch();
      if (player.busy) stats.bargeIns++;
      // Barge-in: the server drops the turn; stop what is queued here at once.
      player.stop();
      if (!pendingUser) pendingUser = line("user", "…");
      setStatus("hearing you");
      break;
    case "userTranscript": {
      const p = pendingUser || line("user", "");
      pendingUser = null;
      if (ev.text) p.querySelector(".text").textContent = ev.text;
      else p.remove(); // noise: no turn follows
      break;
    }
    case "turnStarted":
      touch();
      stats.turnsStarted++;
      currentTurn = ev.turnId;
      if (ev.cause === "TURN_CAUSE_TRIGGER" && ev.inputText) line("user", `(${ev.inputText})`);
      npcLines.set(ev.turnId, line("npc", ""));
      setStatus("thinking");
      break;
    case "emotion":
      face.setEmotion(ev.category, ev.intensity);
      ui.emotion.textContent = `${emotionName(ev.category)} ${(ev.intensity || 0).toFixed(2)}`;
      break;
    case "npcText": {
      const p = npcLines.get(ev.turnId) || line("npc", "");
      npcLines.set(ev.turnId, p);
      p.querySelector(".text").textContent += ev.delta || "";
      ui.transcript.scrollTop = ui.transcript.scrollHeight;
      setStatus("speaking");
      break;
    }
    case "npcAudio":
      player.push(ev);
      break;
    case "actionCommand":
      onAction(s, ev);
      break;
    case "turnEnd":
      touch();
      stats.turnsEnded++;
      stats.lastTimings = ev.timings || {};
      showTimings(ev);
      if (ev.interrupted) {
        player.stop(ev.turnId);
        const p = npcLines.get(ev.turnId);
        if (p) p.classList.add("interrupted");
      }
      ending.set(ev.turnId, ev);
      if (currentTurn === ev.turnId) currentTurn = "";
      setStatus("listening");
      break;
    case "error":
      stats.errors.push(ev.message);
      line("error", ev.message || "error");
      break;
    default:
      break;
  }
}

function onAction(s, ev) {
  stats.actions++;
  const li = document.createElement("li");
  const args = Object.entries(ev.arguments || {}).map(([k, v]) => `${k}=${v}`).join(" ");
  const step = ev.stepCount ? ` (step ${(ev.stepIndex || 0) + 1}/${ev.stepCount})` : "";
  li.textContent = `${ev.verb}${ev.targetId ? ` → ${ev.targetId}` : ""}${args ? ` ${args}` : ""}${step}`;
  ui.actions.appendChild(li);
  // No game here to carry it out: report it done so the plan goes on.
  s.send({
    actionResult: {
      commandId: ev.commandId,
      status: "ACTION_STATUS_SUCCEEDED",
      detail: "acknowledged by the web page (no game attached)",
    },
  });
}

const TIMING_ROWS = [
  ["endOfSpeechMs", "end of speech"],
  ["asrMs", "ASR"],
  ["recallMs", "recall"],
  ["llmFirstTokenMs", "LLM first token"],
  ["firstSentenceMs", "first sentence"],
  ["ttsFirstAudioMs", "TTS first audio"],
  ["firstAudioSentAtMs", "first audio sent at"],
  ["totalMs", "total"],
];

function showTimings(ev) {
  const t = ev.timings || {};
  ui.timings.replaceChildren();
  for (const [key, label] of TIMING_ROWS) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = label;
    const td = document.createElement("td");
    td.textContent = Math.round(t[key] || 0).toString();
    tr.append(th, td);
    ui.timings.appendChild(tr);
  }
}

// --- audio in and out ----------------------------------------------------------------

function onMic(pcm, peak) {
  ui.level.style.width = `${Math.min(100, peak * 140)}%`;
  if (!session || !session.isOpen) return;
  if (mode() === "push-to-talk" && !talking) return;
  session.sendPcm(pcm);
  stats.audioChunksSent++;
}

function pressTalk() {
  if (talking || mode() !== "push-to-talk" || !session) return;
  talking = true;
  touch();
  if (player.busy) stats.bargeIns++;
  player.stop(); // the server interrupts the turn on our first audio
  ui.talk.classList.add("held");
}

function releaseTalk() {
  if (!talking) return;
  talking = false;
  ui.talk.classList.remove("held");
  if (session) session.send({ audioEnd: {} });
}

function frame() {
  if (player) {
    const now = player.now();
    const open = face.update(now.visemeId, now.weight);
    if (Math.abs(open - lastOpen) > 0.05) {
      stats.mouthMoves++;
      lastOpen = open;
    }
    stats.maxMouthOpen = Math.max(stats.maxMouthOpen, open);
    stats.playing = player.busy;
    if (player.busy) touch();
  } else {
    face.update("", 0);
  }
  requestAnimationFrame(frame);
}

function reportProgress() {
  if (!session || !player) return;
  for (const [turnId, ms] of player.played) {
    const ended = ending.has(turnId);
    const finished = ended && !player.hasAudio(turnId);
    const playedMs = Math.round(finished ? player.total.get(turnId) || ms : ms);
    session.send({ playbackProgress: { turnId, playedMs, finished } });
    stats.progressSent++;
    if (finished) {
      player.played.delete(turnId);
      ending.delete(turnId);
    }
  }
  if (KIOSK) idleCheck();
}

function idleCheck() {
  const quiet = !currentTurn && !pendingUser && !(player && player.busy) && !talking;
  if (quiet && performance.now() - lastActivity > IDLE_S * 1000) {
    touch();
    // A fresh session for the next visitor, opened by the character's greeting.
    ui.transcript.replaceChildren();
    connect({ greet: true }).catch(showError);
  }
}

// --- start and stop --------------------------------------------------------------------

function showError(e) {
  const message = e && e.message ? e.message : String(e);
  stats.errors.push(message);
  line("error", message);
  setStatus("error");
}

async function start() {
  // Created on a click: browsers keep audio suspended until the user gestures.
  if (!ctx) {
    ctx = new AudioContext({ latencyHint: "interactive" });
    player = new Player(ctx, stats);
  }
  await ctx.resume();
  if (!mic) {
    try {
      mic = await Mic.open(ctx, onMic);
    } catch (e) {
      showError(new Error(`no microphone (${e.message}); you can still type`));
    }
  }
  ui.start.disabled = true;
  await connect({ greet: KIOSK || ui.greet.checked });
}

function stop() {
  if (session) session.close();
  session = null;
  if (player) player.stop();
  setStatus("stopped");
  ui.start.disabled = false;
  ui.stop.disabled = true;
  ui.talk.disabled = true;
}

async function init() {
  document.body.classList.toggle("kiosk", KIOSK);
  ui.scene.checked = params.get("scene") === "demo";
  ui.greet.checked = params.get("greet") === "1";
  const wanted = params.get("mode");
  if (wanted === "push-to-talk" || wanted === "hands-free") {
    document.querySelector(`input[name="mode"][value="${wanted}"]`).checked = true;
  }
  try {
    characters = await listCharacters();
  } catch (e) {
    showError(e);
    return;
  }
  for (const c of characters) {
    const opt = document.createElement("option");
    opt.value = c.id;
    opt.textContent = c.name;
    opt.title = c.description || c.id;
    ui.character.appendChild(opt);
  }
  const id = params.get("character");
  if (id) {
    if (!characters.some((c) => c.id === id)) {
      showError(new Error(`no character ${JSON.stringify(id)} here; known: ${characters.map((c) => c.id).join(", ")}`));
      return;
    }
    ui.character.value = id;
  }
  ui.start.onclick = () => start().catch(showError);
  ui.stop.onclick = stop;
  const restart = () => {
    if (session) connect({ greet: false }).catch(showError);
  };
  ui.character.onchange = restart;
  for (const r of document.querySelectorAll('input[name="mode"]')) r.onchange = restart;
  ui.talk.addEventListener("pointerdown", (e) => {
    ui.talk.setPointerCapture(e.pointerId);
    pressTalk();
  });
  for (const ev of ["pointerup", "pointercancel", "lostpointercapture"]) {
    ui.talk.addEventListener(ev, releaseTalk);
  }
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space" && !e.repeat && e.target === document.body) {
      e.preventDefault();
      pressTalk();
    }
  });
  document.addEventListener("keyup", (e) => {
    if (e.code === "Space") releaseTalk();
  });
  ui.textForm.onsubmit = (e) => {
    e.preventDefault();
    const text = ui.text.value.trim();
    if (!text || !session) return;
    player.stop(); // typed text interrupts the turn too
    line("user", text);
    session.send({ textInput: { text } });
    ui.text.value = "";
    touch();
  };
  if (KIOSK) {
    ui.overlayStart.textContent = `Tap to talk to ${characterName()}`;
    ui.overlay.hidden = false;
    ui.overlayStart.onclick = () => {
      ui.overlay.hidden = true;
      if (document.documentElement.requestFullscreen) {
        document.documentElement.requestFullscreen().catch(() => {});
      }
      start().catch(showError);
    };
  }
  setInterval(reportProgress, PROGRESS_EVERY_MS);
  requestAnimationFrame(frame);
  document.body.dataset.ready = "1";
}

init();
