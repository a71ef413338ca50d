"""What crosses the boundary: the participant-side client (tokens by ``private_key_jwt``,
optional DPoP), and, as the product grows, importers, the push connector and the
reference fund receiver.

Exception tree of ``connectors.client``::

    GatewayClientError
    └── TokenRequestFailed: the token endpoint refused or could not be reached
"""
