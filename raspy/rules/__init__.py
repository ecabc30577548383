"""Scenarios: the document model, its loader, safe expressions, timing and the engine
(all pure: no sockets, no threads, time passed in)."""
