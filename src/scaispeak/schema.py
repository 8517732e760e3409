"""Imports every table so Alembic sees the whole schema in one MetaData."""

from scaispeak.platform.accounting import models as accounting_models
from scaispeak.platform.auth import models as auth_models
from scaispeak.platform.db import Base
from scaispeak.platform.drive import models as drive_models
from scaispeak.speak.backends import models as backend_models
from scaispeak.speak.jobs import models as job_models
from scaispeak.speak.provenance import models as provenance_models
from scaispeak.speak.voices import models as voice_models

metadata = Base.metadata

__all__ = [
    "accounting_models",
    "auth_models",
    "backend_models",
    "drive_models",
    "job_models",
    "metadata",
    "provenance_models",
    "voice_models",
]
