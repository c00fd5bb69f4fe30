"""What the runtime reports about itself: metrics, traces and the conversation log.

One `Telemetry` per runtime; sessions call `turn_ended` once per TurnEnd and the
driver reports sessions and errors. Nothing here may break a session: a failure
is logged and the turn goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import Settings
from .convlog import ConversationLog
from .events import TurnEndOut
from .metrics import Metrics
from .tracing import Tracing, TurnSpanInfo

if TYPE_CHECKING:
    from .embodiment import Acted
    from .session import Session
    from .turn import Turn

log = logging.getLogger(__name__)


@dataclass
class Telemetry:
    metrics: Metrics = field(default_factory=Metrics)
    tracing: Tracing | None = None
    convlog: ConversationLog | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Telemetry:
        return cls(
            Metrics(),
            Tracing(settings.telemetry),
            ConversationLog.from_settings(settings.conversation_log),
        )

    def turn_ended(self, session: Session, turn: Turn, end: TurnEndOut) -> None:
        try:
            self._turn_ended(session, turn, end)
        except Exception:
            log.exception("telemetry of turn %s failed", turn.turn_id)

    def _turn_ended(self, session: Session, turn: Turn, end: TurnEndOut) -> None:
        req, t = turn.request, end.timings
        cause = req.cause.value
        self.metrics.turn_ended(cause, t, interrupted=end.interrupted, failed=bool(turn.error))
        if self.tracing is not None and self.tracing.enabled:
            self.tracing.turn(
                TurnSpanInfo(
                    turn.turn_id,
                    session.id,
                    session.character.id,
                    cause,
                    end.interrupted,
                    req.reference,
                    turn.error,
                ),
                t,
            )
        if self.convlog is not None:
            acted = turn.acted
            self.convlog.record(
                session_id=session.id,
                character_id=session.character.id,
                player_id=session.start.player_id,
                turn_id=turn.turn_id,
                cause=cause,
                player_text=req.player_text,
                reply=end.text,
                heard=end.heard_text,
                emotion=turn.emotion,
                interrupted=end.interrupted,
                timings=t,
                actions=turn.reply_actions,
                acted=None if acted is None else _acted(acted),
                recalled=turn.recalled.text if turn.recalled is not None else "",
                error=turn.error,
            )

    def close(self) -> None:
        if self.tracing is not None:
            self.tracing.shutdown()
        if self.convlog is not None:
            self.convlog.close()


def _acted(acted: Acted) -> dict[str, Any]:
    return {"planned": acted.planned, "rejected": acted.rejected, "refusals": list(acted.lines)}
