"""The residence-decision gateway: the web application, storage, domain and command line.

Prefectures post residence decisions; social-security funds receive them in signed
batches and check statuses; auditors query the audit trail. This package wires the
``policies``, ``connectors`` and ``audit`` packages into a FastAPI application.
"""
