"""The residence-decision gateway: the web application, storage, domain and command line.

Prefectures post residence decisions; social-security funds receive them in signed
batches and check statuses; auditors query the audit trail. This package wires the
pure ``policies``, ``connectors`` and ``audit`` packages into a FastAPI application.

Each database-backed domain package keeps the same few modules: ``router.py`` (routes),
``schemas.py`` (pydantic), ``models.py`` (tables), ``repository.py`` (every query) and
its logic (``service.py``, or modules named for what they do, such as
``batches/sealing.py``). Every query answering a caller is scoped by ``gateway.tenancy``.
The request path: ``web`` (request id, body limit) → ``routing.TransactionRoute`` (the
request's transaction and audit event) → ``auth.dependencies.authenticate`` (the
``Caller``) → the route → its service → its repository.
"""
