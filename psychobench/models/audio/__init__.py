"""Hearing networks: the word network psychobench trains, Whisper, PocketSphinx, silero-vad and CREPE."""
