"""Speech output: Piper synthesis (piper_tts) and streaming sentence chunking (chunker).

Loaded voices are shared through a VoiceRegistry; per-character settings live in
VoiceSettings and per-reply state in a SentenceChunker.
"""
