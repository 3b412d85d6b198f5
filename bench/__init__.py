"""Benchmarks: the pipeline measured against this machine's own limits.

Every scenario runs a whole deployment (gateway, worker processes, RabbitMQ, PostgreSQL, the
Clever simulator over HTTP) and, in the same run, the raw limit it is compared with: a plain
batched upsert on one connection, a no-op Dramatiq actor, a bare signed-webhook endpoint.
"""
