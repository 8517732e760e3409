"""Imports every table so Alembic sees the whole schema in one MetaData."""

from scaispeak.platform.auth import models as auth_models
from scaispeak.platform.db import Base
from scaispeak.speak.voices import models as voice_models

metadata = Base.metadata

__all__ = ["auth_models", "metadata", "voice_models"]
