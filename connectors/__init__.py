"""What crosses the boundary: the participant-side client, importers, push, fund tools.

Today the participant-side client (tokens by ``private_key_jwt``, optional DPoP); as the
product grows, importers of prefecture files, the push connector and the reference fund
receiver join it.

Exception tree of ``connectors.client``::

    GatewayClientError
    └── TokenRequestFailed: the token endpoint refused or could not be reached
"""
