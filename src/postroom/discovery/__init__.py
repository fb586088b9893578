"""Autodiscovery: from an email address to server settings, each naming where it came from.

Nothing here signs in: sources read tables, DNS and published configuration files, and the
probe only connects and reads a greeting, so no password ever reaches a guessed host.
"""
