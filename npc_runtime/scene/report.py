"""After-action report of a training scene: each rubric item scored by the LLM.

The scores are the configured model's judgement, not a human assessment, and
the report says so on every page: a small model grades loosely.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..llm.base import ChatMessage, GenerationRequest, LLMBackend, LLMError
from .scenario import RubricItem, Scenario

NOTICE = (
    "MODEL-GRADED: these scores were produced by the language model {model}, not by a human "
    "assessor. Treat them as a first pass; read the transcript."
)


@dataclass
class Grade:
    objective: str
    points: int
    score: int | None  # None: the model's answer could not be read
    evidence: str = ""


@dataclass
class Report:
    scenario: str
    model: str
    model_graded: bool = True
    grades: list[Grade] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(g.score or 0 for g in self.grades)

    @property
    def possible(self) -> int:
        return sum(g.points for g in self.grades)

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "total": self.total,
            "possible": self.possible,
            "notice": NOTICE.format(model=self.model),
        }

    def markdown(self, title: str) -> str:
        out = [
            f"# After-action report: {title}",
            "",
            f"> **{NOTICE.format(model=self.model)}**",
            "",
            "| objective | score | evidence |",
            "|---|---|---|",
        ]
        for g in self.grades:
            score = "?" if g.score is None else str(g.score)
            evidence = g.evidence.replace("|", "/").replace("\n", " ")
            out.append(f"| {g.objective} | {score} / {g.points} | {evidence} |")
        out += ["", f"Total (model-graded): {self.total} / {self.possible}", ""]
        return "\n".join(out)


def _schema(points: int) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "score": {"type": "integer", "minimum": 0, "maximum": points},
            "evidence": {"type": "string", "maxLength": 200},
        },
        "required": ["score", "evidence"],
    }


def grading_messages(item: RubricItem, transcript: str, player_name: str) -> list[ChatMessage]:
    system = (
        "You grade a training conversation against one objective. Answer with JSON: "
        f'"score" from 0 to {item.points} ({item.points} = fully met, 0 = not met) and '
        '"evidence", one short sentence quoting the line that decided it.'
    )
    user = (
        f"Transcript:\n{transcript}\n\nObjective for {player_name}: {item.objective}\n"
        f"Met looks like: {item.good or 'the objective is clearly achieved'}\n"
        f"Not met looks like: {item.poor or 'the objective is missed'}"
    )
    return [ChatMessage("system", system), ChatMessage("user", user)]


async def grade(
    llm: LLMBackend, scenario: Scenario, transcript: str, max_tokens: int = 96
) -> Report:
    report = Report(scenario.id, llm.name)
    player = scenario.player.name or "the player"
    for item in scenario.rubric:
        request = GenerationRequest(
            messages=grading_messages(item, transcript, player),
            json_schema=_schema(item.points),
            max_tokens=max_tokens,
            temperature=0.0,
        )
        text = ""
        try:
            async with llm.stream(request) as stream:
                async for delta in stream:
                    text += delta
        except LLMError as e:
            report.grades.append(Grade(item.objective, item.points, None, f"grading failed: {e}"))
            continue
        report.grades.append(_parse(item, text))
    return report


def _parse(item: RubricItem, text: str) -> Grade:
    try:
        data = json.loads(text)
        score = int(data["score"])
        evidence = str(data.get("evidence", ""))
    except (ValueError, KeyError, TypeError):
        return Grade(item.objective, item.points, None, f"unreadable answer: {text[:120]!r}")
    return Grade(item.objective, item.points, max(0, min(item.points, score)), evidence)


def write_report(report: Report, out: Path, title: str) -> tuple[Path, Path]:
    md, js = out / "report.md", out / "report.json"
    md.write_text(report.markdown(title))
    js.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return md, js
