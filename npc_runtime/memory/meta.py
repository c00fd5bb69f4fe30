"""Which embedder wrote an index: vectors of two models must never be compared."""

from __future__ import annotations

from .connection import Redis, as_str_dict, call


class IndexMismatch(RuntimeError):
    """An index was built with another embedder; the message says how to rebuild it."""


async def check_meta(
    r: Redis, key: str, name: str, dim: int, *, what: str, fix: str, record: bool
) -> bool:
    """True if `key` records this embedder (recording it first if `record` and empty).

    False when the index is empty and `record` is off (nothing to compare yet).
    """
    meta = as_str_dict(await call(r, "HGETALL", key))
    if not meta:
        if record:
            await call(r, "HSET", key, "model", name, "dim", str(dim))
            return True
        return False
    if meta.get("model") != name or meta.get("dim") != str(dim):
        raise IndexMismatch(
            f"{what} was built with the embedder {meta.get('model')} ({meta.get('dim')} dims), "
            f"but the configured embedder is {name} ({dim} dims); {fix}"
        )
    return True
