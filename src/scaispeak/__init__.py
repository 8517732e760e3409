"""ScaiSpeak: self-hostable, multi-tenant text-to-speech."""

__version__ = "0.1.0"
