"""Decisions posted by prefectures, their corrections, their history and the backlog import."""
