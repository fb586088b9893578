"""Outbound mail: compose a draft into bytes, queue it, send it, retry it."""
