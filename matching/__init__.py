"""The matcher: the pure engine (engine/), its command journal and the process hosting it."""
