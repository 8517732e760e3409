"""Drive errors, each with a stable problem+json ``code`` (docs/errors.md)."""

from __future__ import annotations

from scaispeak.platform.errors import Conflict, NotFound, PayloadTooLarge, ServiceError


class UnknownShare(NotFound):
    """No such share, another tenant's share, or a share the caller is no member of."""

    code, title = "unknown_share", "Unknown share"


class UnknownFile(NotFound):
    code, title = "unknown_file", "Unknown file"


class InvalidPath(ServiceError):
    """A file path that is empty, absolute, has ``..`` or empty segments, or is too long."""

    status, code, title = 422, "invalid_path", "Invalid file path"


class InvalidContentType(ServiceError):
    status, code, title = 422, "invalid_content_type", "Invalid content type"


class FileExists(Conflict):
    """The path is taken and the caller asked not to overwrite."""

    code, title = "file_exists", "File exists"


class FileBusy(Conflict):
    """Every read of the file found it replaced before its bytes could be opened."""

    code, title = "file_busy", "File is being rewritten"
    retry_after = 1


class OwnerMembershipFixed(Conflict):
    """The user who owns a share keeps the owner role; it cannot be removed or lowered."""

    code, title = "owner_membership_fixed", "Share owner cannot be changed"


class UploadTooLarge(PayloadTooLarge):
    code, title = "upload_too_large", "Upload too large"


class DriveQuotaExceeded(PayloadTooLarge):
    """The file would take the tenant's drive past its quota: one tenant must not fill
    the disk every tenant shares."""

    code, title = "drive_quota_exceeded", "Drive quota exceeded"
