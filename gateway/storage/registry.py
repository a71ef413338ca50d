"""Imports every model module, so ``Base.metadata`` knows every table."""

from __future__ import annotations

import audit.models
import gateway.auth.replay
import gateway.participants.models
from gateway.storage.base import Base

MODEL_MODULES = (audit.models, gateway.auth.replay, gateway.participants.models)
metadata = Base.metadata
