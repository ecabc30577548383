"""The web face's pure parts: logins, page models, HTML, live-value framing.

No sockets, no threads, no files except raspy.web.login_files; the HTTP server and
the actor that talks to the broker are raspy.actors.web and its helpers.
"""
