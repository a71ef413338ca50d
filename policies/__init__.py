"""Policies as data: who may do what, for which purpose, with which fields.

For now the closed lists of purposes per participant kind (``policies.purposes``);
eligibility, priority, routing, disclosure profiles and retention join them here.
"""
