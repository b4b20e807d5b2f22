"""Prometheus metrics: `/metrics`, what it shows, and the counters the web processes keep.

* `counters` — what a process counts as it goes: API requests by action and answer (here), upstream
  calls by provider and action (providers.client_metrics, where the client records them).
* `engine` — the state of the order engine, read from the database at scrape time in a few aggregate
  queries: orders by stage and status, unknown orders, poll and send lag, breakers, upstream balances,
  deposits.
* `views` — the endpoint, its access rule (a bearer token or an address allowlist, off when neither is
  set) and the exposition, in prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set.
"""
