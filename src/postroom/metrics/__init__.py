"""Prometheus metrics. Two kinds, chosen for where their truth lives:

- events (messages fetched, fetch runs, sends, HTTP requests, latencies) are counted by the
  process where they happen (`events.py`); with several processes on one host they go through
  prometheus-client's multiprocess files under the data dir (`process.py`);
- states (mailboxes, outbox, webhook deliveries, tokens, gaps) are read from the database at
  scrape time (`database.py`): every worker on every host writes there, so one scrape sees all.
"""
