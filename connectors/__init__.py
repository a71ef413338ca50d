"""What crosses the boundary, with no gateway code: what prefectures and funds run.

- ``client``: a participant's client of the gateway (tokens by ``private_key_jwt``,
  optional DPoP), built on authlib and httpx;
- ``importers``: reading prefecture files (CSV, NDJSON) line by line, every error named;
- ``wire``: the batch and receipt format, shared by the gateway and the funds;
- ``push``: posting one batch to a fund's endpoint, for the gateway's push delivery;
- ``fund``: a fund's side of batches (verify, keep, sign receipts, pull, a push
  receiver) and of status checks in bulk.

Exception tree of ``connectors.client``::

    GatewayClientError
    └── TokenRequestFailed: the token endpoint refused or could not be reached

The fund side's exception tree is in ``connectors.fund``.
"""
