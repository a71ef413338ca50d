"""Policies as data: who may do what, for which purpose, with which fields, for how long.

Pure: the policy model (``model``), its loader and version (``loader``), eligibility,
priority and routing (``evaluate``), the projection of a record to a profile's fields
(``projection``), the purposes per participant kind (``purposes``) and the register of
processing rendered from a policy (``register``). The shipped default is ``default.yaml``.
"""
