"""Batches: sealing disclosures into signed, chained batches; pull, push and receipts.

The format is ``connectors.wire``. ``sealing`` builds and signs batches, ``receipts``
verifies and applies a fund's receipt, ``delivery`` pushes to funds' endpoints,
``storage`` keeps the exact bytes encrypted at rest, ``repository`` holds every query.
"""
