"""Identities of the people decisions concern.

Parsing and validating identifiers, names, partial dates and places; canonical forms;
encryption at rest and blind indexes (``crypto``, ``service``); name matching, its
blocking keys and their reindexing (``matching``, ``reindex``), and the evaluation of the
matcher on a labelled set (``quality``). Status checks build on this package, never the
other way round.
"""
