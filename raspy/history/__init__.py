"""The value recorder's pure parts: tiers, round-robin slots, queries, charts.

No sockets, no LMDB, no clock: time is passed in (actors/history.py is the shell).
"""
