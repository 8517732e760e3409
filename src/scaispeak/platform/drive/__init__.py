"""The drive: file shares with members, the host platform's ScaiDrive stand-in."""
