"""Prometheus metrics: the series (`series`), how each process serves them (`exposition`), the
database pool's use (`pool`) and the gauges read from the database at scrape time (`state`)."""
