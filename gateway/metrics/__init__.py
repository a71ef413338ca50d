"""``/metrics``: what an operator watches, in the Prometheus text format.

``instruments`` holds the counters and histograms the request path updates (requests by
route, status and latency; audited actions by outcome; refusals by problem); ``collector``
reads, at each scrape, what the database owes (records per fund, state and priority
class, and the age of the oldest record waiting to be sealed) through ``repository``;
``router`` serves them behind a scrape token. With several server processes,
``PROMETHEUS_MULTIPROC_DIR`` makes every process's counts add up (``gateway serve`` sets
it when it starts more than one).
"""
