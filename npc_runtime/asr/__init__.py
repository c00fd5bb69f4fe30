"""Speech input: Silero VAD endpointing (vad) and Whisper transcription (transcriber).

Loaded models (SileroVad, WhisperTranscriber) are shared by all sessions; each
session owns a small Endpointer holding its stream state.
"""
