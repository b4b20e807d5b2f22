"""What the workers do with orders upstream, by concept.

* send: claim paid orders and call `add`; backoff, holds, failures and unknown outcomes.
* poll: statuses per provider in batches of 100; apply them in bulk.
* settle: refunds owed by final orders (Partial, Canceled), once each.
* requests: refills and cancels, sent and polled in batches.
* health: circuit breaker, 429 back-off, upstream balance.
* resolve: admin resolutions of failed and unknown orders.
* cycle: one whole cycle, synchronously.
"""
