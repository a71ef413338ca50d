"""Authentication and authorization.

Clients authenticate at the token endpoint with a signed assertion (``private_key_jwt``,
RFC 7523), optionally proving possession of a DPoP key (RFC 9449), and receive a
short-lived JWT access token (RFC 9068). ``dependencies.authenticate`` turns each
request into a ``caller.Caller``: the participant, its scopes, territory, the declared
purpose and, for funds, the agent. One-time identifiers (``models``, ``repository``)
stop replayed assertions and proofs.
"""
