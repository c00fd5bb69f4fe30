"""Vector-set commands as plain tuples, so a write can be queued while Redis is down."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

Command = tuple[Any, ...]


def vadd(key: str, vector: np.ndarray, element: str, attrs: dict[str, Any]) -> Command:
    blob = np.asarray(vector, dtype="<f4").tobytes()
    return ("VADD", key, "FP32", blob, element, "SETATTR", json.dumps(attrs, ensure_ascii=False))


def vsim(key: str, vector: np.ndarray, count: int) -> Command:
    blob = np.asarray(vector, dtype="<f4").tobytes()
    return ("VSIM", key, "FP32", blob, "WITHSCORES", "WITHATTRIBS", "COUNT", count)


def parse_vsim(resp: Any) -> list[tuple[str, float, dict[str, Any]]]:
    """(element, cosine similarity, attributes) from a VSIM WITHSCORES WITHATTRIBS reply.

    VSIM scores are (1 + cosine) / 2; this gives the cosine back.
    """
    rows: list[tuple[str, Any, Any]]
    if not resp:
        return []
    if isinstance(resp, dict):  # RESP3: {element: [score, attrs]}
        rows = [(k, v[0], v[1]) for k, v in resp.items()]
    else:
        it = iter(resp)
        rows = list(zip(it, it, it, strict=False))
    out = []
    for element, score, attrs in rows:
        parsed = json.loads(attrs) if attrs else {}
        out.append((str(element), 2.0 * float(score) - 1.0, parsed))
    return out
