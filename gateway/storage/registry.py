"""Imports every model module, so ``Base.metadata`` knows every table."""

from __future__ import annotations

import gateway.auditlog.models
import gateway.auth.models
import gateway.batches.models
import gateway.console.models
import gateway.decisions.models
import gateway.disclosures.models
import gateway.identities.models
import gateway.imports.models
import gateway.participants.models
import gateway.retention.models
import gateway.status.models
import gateway.subscriptions.models
from gateway.storage.base import Base

MODEL_MODULES = (
    gateway.auditlog.models,
    gateway.auth.models,
    gateway.batches.models,
    gateway.console.models,
    gateway.decisions.models,
    gateway.disclosures.models,
    gateway.identities.models,
    gateway.imports.models,
    gateway.participants.models,
    gateway.retention.models,
    gateway.status.models,
    gateway.subscriptions.models,
)
metadata = Base.metadata
