"""Real-time streaming: text arrives piece by piece, audio leaves frame by frame.

Transport-neutral (no FastAPI or Starlette here): ``protocol`` defines the client
messages and server events, ``session.StreamSession`` runs one stream against a
``sink.StreamSink`` that each transport implements, ``admission`` caps streams per
tenant. The protocol is documented in docs/streaming.md.
"""
