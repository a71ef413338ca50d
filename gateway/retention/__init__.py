"""Retention: the scheduled purge that crypto-shreds identity data and reports what it did."""
