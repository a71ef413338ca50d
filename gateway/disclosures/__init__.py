"""Disclosures: one decision for one fund, as the policy decided, in that fund's outbox."""
