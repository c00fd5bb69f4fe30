// The designer view: talk to a character in text and see what went into its reply —
// persona, knowledge hits, memories, what it perceives of its scene — and every
// raw event. The data comes from GET /v1/sessions/{id}/debug after each turn.

import { authHeaders, listCharacters, NpcSession } from "./npc-client.js";
import { exampleScene } from "./scene-example.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const ui = {
  character: $("character"),
  player: $("player"),
  scene: $("scene"),
  voice: $("voice"),
  connect: $("connect"),
  form: $("text-form"),
  text: $("text"),
  send: $("send"),
  status: $("status"),
  persona: $("persona"),
  turn: $("turn"),
  knowledge: $("knowledge"),
  memories: $("memories"),
  perception: $("perception"),
  graph: $("graph"),
  sceneEdit: $("scene-edit"),
  sceneJson: $("scene-json"),
  raw: $("raw"),
};
const MAX_RAW = 400;
let characters = [];
let session = null;
const designer = { turns: 0, debugLoads: 0, lastDebug: null };
window.designerStats = designer;

function h(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function fill(box, children, emptyText) {
  box.replaceChildren(...children);
  box.classList.toggle("empty", children.length === 0);
  if (!children.length) box.textContent = emptyText;
}

function setStatus(text) {
  ui.status.textContent = text;
  document.body.dataset.status = text;
}

function raw(direction, event) {
  // PCM is noise to a designer: show its size instead.
  const shown = JSON.stringify(event, (k, v) =>
    k === "pcm" && typeof v === "string" ? `<${Math.floor((v.length * 3) / 4)} bytes>` : v,
  );
  const line = h("div", `${direction} ${shown}`);
  ui.raw.appendChild(line);
  while (ui.raw.childElementCount > MAX_RAW) ui.raw.firstElementChild.remove();
  ui.raw.scrollTop = ui.raw.scrollHeight;
}

function sceneToSend() {
  if (!ui.scene.checked) return null;
  try {
    return JSON.parse(ui.sceneJson.value);
  } catch (e) {
    throw new Error(`the scene is not valid JSON: ${e.message}`);
  }
}

async function connect() {
  if (session) session.close();
  const start = {
    characterId: ui.character.value,
    playerId: ui.player.value.trim(),
    textOnly: !ui.voice.checked,
    visemes: ui.voice.checked,
  };
  const scene = sceneToSend();
  if (scene) start.scene = scene;
  const s = new NpcSession({
    onEvent: (kind, body, ev) => {
      if (s === session) onEvent(kind, body, ev);
    },
    onClose: (code, reason) => {
      if (s !== session) return;
      setStatus(`disconnected (${code}${reason ? ` ${reason}` : ""})`);
      ui.text.disabled = ui.send.disabled = true;
    },
  });
  session = s;
  raw("→", { sessionStart: start });
  setStatus("connecting…");
  await s.open(start);
  setStatus(`session ${s.sessionId.slice(0, 8)}`);
  ui.text.disabled = ui.send.disabled = false;
  ui.text.focus();
  await loadDebug();
}

function onEvent(kind, body, ev) {
  raw("←", ev);
  if (kind === "turnEnd") {
    designer.turns++;
    loadDebug().catch(showError);
  } else if (kind === "error" && !body.sessionAlive) {
    showError(new Error(body.message));
  }
}

async function loadDebug() {
  if (!session || !session.sessionId) return;
  const res = await fetch(`/v1/sessions/${session.sessionId}/debug`, { headers: authHeaders() });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  designer.lastDebug = body;
  designer.debugLoads++;
  render(body);
}

function render(d) {
  const c = d.character;
  const persona = [
    h("p", `${c.name} (${c.id}) — ${c.description}`),
    h("pre", c.persona, "persona-text"),
  ];
  if (c.speaking_style) persona.push(h("p", `Style: ${c.speaking_style}`));
  if (c.greeting) persona.push(h("p", `Greeting: “${c.greeting}”`));
  if (c.verbs.length) persona.push(h("p", `Verbs: ${c.verbs.join(", ")}`));
  fill(ui.persona, persona, "");

  const t = d.last_turn;
  if (!t) {
    for (const box of [ui.turn, ui.knowledge, ui.memories]) fill(box, [], "no turn yet");
  } else {
    const lines = [
      h("p", `${t.turn_id} · ${t.cause}${t.scripted ? " (scripted)" : ""} · ${t.emotion}`),
      h("p", `Player: ${t.input_text || "—"}`),
      h("p", `NPC: ${t.text || "—"}`),
    ];
    if (t.error) lines.push(h("p", `Error: ${t.error}`));
    if (t.actions) {
      lines.push(h("p", `Actions: ${t.actions.planned} planned, ${t.actions.rejected} rejected`));
      for (const r of t.actions.refusals) lines.push(h("p", `Refused: ${r}`));
    }
    fill(ui.turn, lines, "");
    const r = t.recall;
    const why = r === null ? "no recall ran (a scripted line, or no memory store)" : "nothing recalled";
    fill(
      ui.knowledge,
      (r ? r.knowledge : []).map((k) => hit(k.text, `${k.source}${k.heading ? ` › ${k.heading}` : ""} · score ${k.score}`)),
      r && !r.ok ? "the memory store was unreachable" : why,
    );
    fill(
      ui.memories,
      (r ? r.memories : []).map((m) => hit(m.text, `${m.kind} · score ${m.score} · importance ${m.importance} · ${m.age_h} h ago`)),
      r && !r.ok ? "the memory store was unreachable"
        : d.player_id ? why : "anonymous player: memories are kept only for a player id",
    );
  }

  const p = t && t.perception;
  fill(
    ui.perception,
    p ? [h("pre", p.summary || "(nothing perceived)"), h("p", `Nodes: ${p.nodes.map((n) => n.name || n.id).join(", ") || "—"}`)] : [],
    d.scene ? "no turn yet" : "no scene: tick “demo scene” and reconnect",
  );
  const g = d.scene;
  fill(
    ui.graph,
    g ? [
      h("p", `World ${g.world_id}; this NPC is ${g.npc_id}`),
      h("pre", g.nodes.map((n) => `${n.id}  ${n.kind}${n.type ? `/${n.type}` : ""}  ${n.name}${n.state ? ` ${JSON.stringify(n.state)}` : ""}`).join("\n")),
      h("pre", g.relations.join("\n")),
    ] : [],
    "no scene",
  );
}

function hit(text, meta) {
  const div = h("div", undefined, "hit");
  div.append(h("div", meta, "meta"), h("div", text));
  return div;
}

function showError(e) {
  setStatus(`error: ${e.message || e}`);
  raw("!!", { error: String(e.message || e) });
}

async function init() {
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
    ui.character.appendChild(opt);
  }
  if (params.get("character")) ui.character.value = params.get("character");
  ui.scene.checked = params.get("scene") === "demo";
  ui.player.value = params.get("player") || "";
  const syncScene = () => {
    ui.sceneEdit.hidden = !ui.scene.checked;
    const c = characters.find((x) => x.id === ui.character.value);
    if (ui.scene.checked) ui.sceneJson.value = JSON.stringify(exampleScene(ui.character.value, c && c.name), null, 2);
  };
  ui.scene.onchange = syncScene;
  ui.character.onchange = syncScene;
  syncScene();
  ui.connect.onclick = () => connect().catch(showError);
  ui.form.onsubmit = (e) => {
    e.preventDefault();
    const text = ui.text.value.trim();
    if (!text || !session) return;
    const ev = { textInput: { text } };
    raw("→", ev);
    session.send(ev);
    ui.text.value = "";
  };
  document.body.dataset.ready = "1";
  if (params.get("connect") === "1") connect().catch(showError);
}

init();
