"""Participants: prefectures, funds, auditors and operators, their keys and territories."""
