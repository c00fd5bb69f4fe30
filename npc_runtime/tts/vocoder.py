"""A Piper voice split in two, so speech can start before a sentence is fully made.

A Piper (VITS) voice is an encoder (phonemes → durations → latent frames, one
frame per `hop` samples) and a HiFi-GAN decoder (frames → samples). The encoder
needs the whole sentence but is about a third of the work; the decoder is
local: each output frame depends on at most 12 latent frames on either side
(measured on en_US-joe-medium: with 12 frames of context a slice decodes bit
for bit like the whole). So the first few hundred ms are decoded alone and sent
while the rest is decoded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

# Latent frames of context decoded on each side of a slice and thrown away. 12 is
# exact for the HiFi-GAN shape Piper trains; the rest is margin for other voices.
CONTEXT_FRAMES = 16
_DECODER_PREFIX = "/dec/"
_OUTPUT = "output"


@dataclass(frozen=True, eq=False)
class Encoded:
    latent: np.ndarray  # [1, channels, frames]
    frame_durations: np.ndarray | None  # latent frames per phoneme id; None without alignments

    @property
    def frames(self) -> int:
        return int(self.latent.shape[2])


class SplitVoice:
    """The encoder and decoder halves of one voice as two onnxruntime sessions."""

    def __init__(
        self,
        encoder: ort.InferenceSession,
        decoder: ort.InferenceSession,
        latent_name: str,
        hop: int,
    ) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.latent_name = latent_name
        self.hop = hop
        self.has_alignments = len(encoder.get_outputs()) > 1

    @classmethod
    def split(
        cls,
        model: Any,  # onnx.ModelProto, already patched for alignments if wanted
        alignment_output: str | None,
        options: ort.SessionOptions,
        hop: int,
    ) -> SplitVoice | None:
        """The two halves, or None when the graph is not one this code knows how to cut
        (then the voice is run whole, one sentence at a time)."""
        from onnx.utils import Extractor

        graph = model.graph
        decoder_nodes = [n for n in graph.node if n.name.startswith(_DECODER_PREFIX)]
        produced = {out for n in decoder_nodes for out in n.output}
        constants = {init.name for init in graph.initializer}
        boundary = sorted(
            {
                name
                for n in decoder_nodes
                for name in n.input
                if name and name not in produced and name not in constants
            }
        )
        # A multi-speaker voice's decoder also takes the speaker embedding: that one
        # would need passing whole beside the sliced latent. Not cut (yet).
        if len(boundary) != 1 or _OUTPUT not in {o.name for o in graph.output}:
            log.debug("not splitting the voice: decoder inputs %s", boundary)
            return None
        latent = boundary[0]
        extractor = Extractor(model)
        try:
            enc_outputs = [latent] + ([alignment_output] if alignment_output else [])
            encoder = extractor.extract_model([i.name for i in graph.input], enc_outputs)
            decoder = extractor.extract_model([latent], [_OUTPUT])
        except Exception as exc:  # onnx raises several kinds; all mean "cannot cut"
            log.debug("not splitting the voice: %s", exc)
            return None

        def session(part: Any) -> ort.InferenceSession:
            return ort.InferenceSession(
                part.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
            )

        return cls(session(encoder), session(decoder), latent, hop)

    def encode(self, inputs: dict[str, np.ndarray]) -> Encoded:
        """Phoneme ids (Piper's input dict) to latent frames (blocking)."""
        out = self.encoder.run(None, inputs)
        durations = out[1].reshape(-1) if len(out) > 1 else None
        return Encoded(out[0], durations)

    def decode(self, encoded: Encoded, start: int, end: int) -> np.ndarray:
        """Samples for latent frames [start, end), the same as those of a whole decode."""
        frames = encoded.frames
        if not 0 <= start < end <= frames:
            raise ValueError(f"frames [{start}, {end}) are outside 0..{frames}")
        lo = max(0, start - CONTEXT_FRAMES)
        hi = min(frames, end + CONTEXT_FRAMES)
        piece = np.ascontiguousarray(encoded.latent[:, :, lo:hi])
        audio = np.asarray(self.decoder.run(None, {self.latent_name: piece})[0]).reshape(-1)
        first = (start - lo) * self.hop
        out: np.ndarray = audio[first : first + (end - start) * self.hop]
        return out
