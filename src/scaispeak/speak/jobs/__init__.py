"""Async synth jobs: long text, checkpointed, queued, resumable after a crash."""
