"""The backlog import: a file of decisions streamed in, every line reported."""
