"""The ``gateway`` command line: one entry point for operators, jobs and funds' tools."""
