"""Re-store a GGUF's weights in a block format this CPU multiplies faster, once, cached.

The bundled SmolLM2-135M ships as Q4_1. On a 2-core x86 CPU llama.cpp multiplies
Q8_0 and Q4_0 blocks with faster kernels than Q4_1 (Q8_0 and Q4_0 also have batched
"tinyBLAS" kernels for prompt reading, Q4_1 does not), and every token of a turn's
critical path goes through those multiplications. Measured on the 2-core AMD EPYC,
bundled model, ~900-token prompt (README, "Latency"):

- Q8_0: the first token of a turn ~15% sooner, ~2 ms less per decoded token. Q4_1
  values land on Q8_0's grid within ~2% of a Q4_1 step (RMS error under 0.7% of any
  tensor's RMS): the model is the same.
- Q4_0: the first token ~25% sooner, ~4.5 ms less per token, but Q4_1 values do not
  fit Q4_0's symmetric grid: re-rounding adds about as much error as the original
  quantisation had. Faster, measurably worse; a choice, not the default.

Only block-quantised tensors of another type are converted (norms stay F32, a Q8_0
embedding stays as it is); rows that are not whole blocks keep their type.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

from ..choices import not_one_of

log = logging.getLogger(__name__)

Target = Literal["q8_0", "q4_0"]
TARGETS: tuple[Target, ...] = get_args(Target)
# Bumped when the conversion changes, so old cached files are not reused.
_VERSION = 1
_BLOCK = 32  # elements per block in both target formats


def default_cache_dir() -> Path:
    """Where converted models are kept: $XDG_CACHE_HOME/npc-runtime/models (~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "npc-runtime" / "models"


def cached_path(source: Path, target: Target, cache_dir: Path) -> Path:
    """The converted file's name: the source's name, size and time, so a changed source
    (a new package version) gets a new conversion instead of a stale one."""
    st = source.stat()
    key = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{target}|{_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir / f"{source.stem}.{target}.{digest}.gguf"


def requantized(
    source: Path,
    target: Target,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """`source` with its block-quantised weights in `target`, converted on first use.

    Blocking (~5 s for the bundled model, numpy); later calls return the cached file.
    Raises ValueError for an unknown target or a file that is not a readable GGUF."""
    if target not in TARGETS:
        raise ValueError(not_one_of("target", target, TARGETS))
    out = cached_path(source, target, cache_dir or default_cache_dir())
    if out.is_file():
        return out
    say = progress or (lambda _m: None)
    say(f"converting {source.name} to {target.upper()} for this CPU (once; cached in {out.parent})")
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed: an interrupted conversion never looks finished, and
    # two processes converting at once each rename a whole file.
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    try:
        converted = _convert(source, tmp, target)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("converted %d tensors of %s to %s: %s", converted, source, target, out)
    return out


def _convert(source: Path, dest: Path, target: Target) -> int:
    import gguf
    import numpy as np

    qtype = gguf.GGMLQuantizationType.Q8_0 if target == "q8_0" else gguf.GGMLQuantizationType.Q4_0
    keep = {
        gguf.GGMLQuantizationType.F32,
        gguf.GGMLQuantizationType.F16,
        gguf.GGMLQuantizationType.BF16,
        qtype,
    }
    # A damaged file fails in many ways inside gguf (struct, index, value errors).
    try:
        reader = gguf.GGUFReader(str(source))
    except Exception as e:
        raise ValueError(f"{source} is not a readable GGUF file ({type(e).__name__}: {e})") from e
    arch_field = reader.fields[gguf.Keys.General.ARCHITECTURE]
    writer = gguf.GGUFWriter(str(dest), arch=str(arch_field.contents()), endianess=reader.endianess)
    for field in reader.fields.values():
        # The writer adds the architecture and the GGUF.* header fields itself.
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)

    tensors: list[tuple[str, np.ndarray, gguf.GGMLQuantizationType]] = []
    converted = 0
    for t in reader.tensors:
        data, ttype = t.data, t.tensor_type
        # t.shape is ggml's order: the first dimension is the row, which blocks split.
        if ttype not in keep and int(t.shape[0]) % _BLOCK == 0:
            try:
                values = gguf.quants.dequantize(t.data, ttype)
            except NotImplementedError:
                pass  # a format gguf cannot read back (some i-quants): left as it is
            else:
                data, ttype = gguf.quants.quantize(values, qtype), qtype
                converted += 1
        tensors.append((t.name, data, ttype))
    for name, data, ttype in tensors:
        writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, ttype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _name, data, _ttype in tensors:
        writer.write_tensor_data(data)
    writer.close()
    return converted
