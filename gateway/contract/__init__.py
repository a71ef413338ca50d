"""The API contract: the OpenAPI document, the JSON Schemas of what is signed, problem types."""
