"""The opt-in conversation log: one JSON line per turn, redacted.

Set `conversation_log.path` (env NPC_CONVERSATION_LOG__PATH) to turn it on. Each
line holds the turn's input, reply, what the player heard, emotion, actions,
what recall put into the prompt, and the timings. Redaction before anything is
written:

- player ids become a salted SHA-256 (16 hex digits; `hash_player_ids`, `salt`),
  so lines of one player can be grouped without storing who they are;
- every match of the `redact` regexes (by default e-mail addresses and phone
  numbers) in the player's and the NPC's lines becomes "[redacted]";
- `drop_prompts` leaves out what the player said and what recall added.

Lines are appended and flushed one by one (a turn's line is a few hundred bytes);
rotate the file with copytruncate-style tools or by moving it: it is reopened
when it disappears.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import IO, Any

from .config import ConversationLogSettings
from .events import Timings

log = logging.getLogger(__name__)

REDACTED = "[redacted]"


class Redactor:
    def __init__(self, cfg: ConversationLogSettings) -> None:
        self.cfg = cfg
        self._patterns = [re.compile(p) for p in cfg.redact]

    def player(self, player_id: str) -> str:
        if not player_id or not self.cfg.hash_player_ids:
            return player_id
        digest = hashlib.sha256((self.cfg.salt + "\0" + player_id).encode()).hexdigest()
        return digest[:16]

    def text(self, text: str) -> str:
        for p in self._patterns:
            text = p.sub(REDACTED, text)
        return text


class ConversationLog:
    def __init__(self, cfg: ConversationLogSettings) -> None:
        self.cfg = cfg
        self.path = Path(cfg.path)
        self.redactor = Redactor(cfg)
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        self.written = 0

    @classmethod
    def from_settings(cls, cfg: ConversationLogSettings) -> ConversationLog | None:
        return cls(cfg) if cfg.path else None

    def record(
        self,
        *,
        session_id: str,
        character_id: str,
        player_id: str,
        turn_id: str,
        cause: str,
        player_text: str,
        reply: str,
        heard: str,
        emotion: str,
        interrupted: bool,
        timings: Timings,
        actions: Any = None,
        acted: dict[str, Any] | None = None,
        recalled: str = "",
        error: str = "",
    ) -> dict[str, Any]:
        """Redact one turn and append it; returns the line as written."""
        r = self.redactor
        line: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "session_id": session_id,
            "turn_id": turn_id,
            "character": character_id,
            "player": r.player(player_id),
            "cause": cause,
        }
        if not self.cfg.drop_prompts:
            line["input"] = r.text(player_text)
            if recalled:
                line["recalled"] = r.text(recalled)
        line.update(
            {
                "reply": r.text(reply),
                "heard": r.text(heard),
                "emotion": emotion,
                "interrupted": interrupted,
                "actions": _redact_json(actions, r) if actions else [],
                "acted": acted,
                "timings": {k: v for k, v in vars(timings).items() if v},
            }
        )
        if error:
            line["error"] = r.text(error)
        self._append(json.dumps(line, ensure_ascii=False, default=str))
        return line

    def _append(self, text: str) -> None:
        with self._lock:
            try:
                if self._file is None or not self.path.exists():
                    if self._file is not None:
                        self._file.close()
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("a", encoding="utf-8")
                self._file.write(text + "\n")
                self._file.flush()
                self.written += 1
            except OSError as e:
                log.warning("conversation log %s: cannot write: %s", self.path, e)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _redact_json(value: Any, r: Redactor) -> Any:
    if isinstance(value, str):
        return r.text(value)
    if isinstance(value, list):
        return [_redact_json(v, r) for v in value]
    if isinstance(value, dict):
        return {k: _redact_json(v, r) for k, v in value.items()}
    return value
