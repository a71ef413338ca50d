"""Batches: sealing disclosures into signed, chained batches; pull, push and receipts."""
