"""The MQTT bridge's pure logic: topics, payloads, filters, discovery, the buffer.

Nothing here opens a socket, starts a thread or reads the clock: the bridge in raspyd
(raspy.actors.mqtt) feeds it and carries out what it returns.
"""
