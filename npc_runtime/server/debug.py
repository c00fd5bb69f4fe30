"""What the designer view shows about a live session, as plain JSON.

`GET /v1/sessions/{session_id}/debug` on the gateway: the character's persona, what
recall put into the last turn's prompt (knowledge hits, memories), what the NPC
perceived of its scene, and the scene graph itself. Read-only; the session id
(128 random bits) is the only key, as for `resume_session_id`.
"""

from __future__ import annotations

from typing import Any

from ..characters import Character
from ..memory.recall import Recall
from ..session import Session
from ..turn import Turn
from ..world.model import Node

# A designer reads these; a scene near world.max_nodes would only bury the view.
MAX_SCENE_NODES = 200


def session_debug(session: Session) -> dict[str, Any]:
    body = session.body
    return {
        "session_id": session.id,
        "state": session.state.value,
        "player_id": session.start.player_id,
        "character": character_debug(session.character),
        "history": [{"player": e.player, "npc": e.npc} for e in session.history],
        "last_turn": turn_debug(session.last_turn, session) if session.last_turn else None,
        "scene": None if body is None else _scene(session),
    }


def character_debug(c: Character) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "persona": c.persona.strip(),
        "speaking_style": c.speaking_style.strip(),
        "greeting": c.greeting,
        "verbs": list(c.actions.verbs),
        "knowledge": {
            "shared": list(c.knowledge.shared),
        },
    }


def turn_debug(turn: Turn, session: Session) -> dict[str, Any]:
    req = turn.request
    perception: dict[str, Any] | None = None
    if turn.sensed is not None:
        seen = turn.sensed.perception
        graph = session.body.world.graph if session.body is not None else None
        perception = {
            "npc_id": seen.npc_id,
            "place_id": seen.place_id,
            "summary": seen.summary,
            "nodes": [_perceived(graph.node(i) if graph else None, i) for i in seen.ids],
            "elapsed_ms": round(turn.sensed.elapsed_ms, 2),
        }
    return {
        "turn_id": req.turn_id,
        "cause": req.cause.value,
        "input_text": req.player_text,
        "scripted": req.fixed_text is not None,
        "text": turn.text,
        "emotion": turn.emotion,
        "error": turn.error,
        "recall": _recall(turn.recalled),
        "perception": perception,
        "actions": None
        if turn.acted is None
        else {
            "planned": turn.acted.planned,
            "rejected": turn.acted.rejected,
            "refusals": list(turn.acted.lines),
        },
    }


def _recall(r: Recall | None) -> dict[str, Any] | None:
    if r is None:
        return None  # no recall ran: a scripted line, or no memory store
    return {
        "ok": r.ok,
        "prompt_text": r.text,
        "knowledge": [
            {"text": h.text, "source": h.source, "heading": h.heading, "score": round(h.score, 4)}
            for h in r.knowledge
        ],
        "memories": [
            {
                "text": m.text,
                "score": round(m.score, 4),
                "importance": m.importance,
                "kind": m.kind,
                "age_h": round(m.age_h, 3),
            }
            for m in r.memories
        ],
        "embed_ms": round(r.embed_ms, 2),
        "search_ms": round(r.search_ms, 2),
    }


def _perceived(node: Node | None, node_id: str) -> dict[str, Any]:
    # A node perceived at the turn may have left the scene since.
    return _node(node) if node is not None else {"id": node_id, "gone": True}


def _node(n: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"id": n.id, "kind": n.kind.value, "name": n.name}
    if n.type:
        out["type"] = n.type
    if n.state:
        out["state"] = dict(n.state)
    if n.hidden:
        out["hidden"] = True
    return out


def _scene(session: Session) -> dict[str, Any]:
    assert session.body is not None
    world = session.body.world
    nodes = list(world.graph.nodes())
    return {
        "world_id": world.id,
        "npc_id": session.npc_id,
        "nodes": [_node(n) for n in nodes[:MAX_SCENE_NODES]],
        "relations": [str(r) for r in world.graph.relations()][: MAX_SCENE_NODES * 2],
        "truncated": len(nodes) > MAX_SCENE_NODES,
    }
