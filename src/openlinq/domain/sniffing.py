"""Is a file what it claims to be? The supported content types and content sniffing.

The declared type must match the bytes: the signatures ``puremagic`` knows
decide for binary formats; ISO media (MP4, MOV, M4A, HEIC) and ZIP containers
(Office, iWork, EPUB) are judged by family, since one signature covers many
types; text formats are accepted when no binary signature is found. Images and
PDFs must carry their signature; executables are refused whatever they claim to be.
"""

from __future__ import annotations

from openlinq.domain.errors import ErrorCode, LinqError

SUPPORTED_CONTENT_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/heic",
        "image/heif",
        "image/tiff",
        "image/bmp",
        "image/svg+xml",
        "image/webp",
        "image/x-icon",
        "video/mp4",
        "video/quicktime",
        "video/mpeg",
        "video/mpeg2",
        "video/x-m4v",
        "video/x-msvideo",
        "video/3gpp",
        "audio/mpeg",
        "audio/mp3",
        "audio/x-m4a",
        "audio/mp4",
        "audio/x-caf",
        "audio/x-wav",
        "audio/x-aiff",
        "audio/aiff",
        "audio/aac",
        "audio/midi",
        "audio/amr",
        "application/pdf",
        "application/vnd.apple.pkpass",
        "text/plain",
        "text/markdown",
        "text/vcard",
        "text/rtf",
        "text/csv",
        "text/html",
        "text/calendar",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/x-iwork-pages-sffpages",
        "application/x-iwork-numbers-sffnumbers",
        "application/x-iwork-keynote-sffkey",
        "application/epub+zip",
        "text/xml",
        "application/json",
        "application/zip",
        "application/x-gzip",
    }
)

TEXT_TYPES = frozenset(
    {
        "text/plain",
        "text/markdown",
        "text/vcard",
        "text/csv",
        "text/html",
        "text/calendar",
        "text/xml",
        "application/json",
        "image/svg+xml",
        "text/rtf",
    }
)
ISO_MEDIA = frozenset(
    {
        "video/mp4",
        "video/quicktime",
        "video/x-m4v",
        "video/3gpp",
        "audio/mp4",
        "audio/x-m4a",
        "image/heic",
        "image/heif",
    }
)
ZIP_CONTAINERS = frozenset(
    {
        "application/zip",
        "application/epub+zip",
        "application/vnd.apple.pkpass",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/x-iwork-pages-sffpages",
        "application/x-iwork-numbers-sffnumbers",
        "application/x-iwork-keynote-sffkey",
    }
)
OLE_DOCUMENTS = frozenset(
    {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
)
# Extensions puremagic reports, for the declared types whose MIME names it spells differently.
EXTENSIONS: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({".jpg", ".jpeg", ".jfif", ".jpe"}),
    "image/tiff": frozenset({".tif", ".tiff"}),
    "image/bmp": frozenset({".bmp", ".dib"}),
    "image/x-icon": frozenset({".ico"}),
    "audio/mpeg": frozenset({".mp3"}),
    "audio/mp3": frozenset({".mp3"}),
    "audio/x-wav": frozenset({".wav"}),
    "audio/x-aiff": frozenset({".aif", ".aiff", ".aifc"}),
    "audio/aiff": frozenset({".aif", ".aiff", ".aifc"}),
    "audio/x-caf": frozenset({".caf"}),
    "audio/amr": frozenset({".amr"}),
    "audio/aac": frozenset({".aac"}),
    "audio/midi": frozenset({".mid", ".midi"}),
    "video/mpeg": frozenset({".mpg", ".mpeg", ".m2v"}),
    "video/mpeg2": frozenset({".mpg", ".mpeg", ".m2v"}),
    "video/x-msvideo": frozenset({".avi"}),
    "application/x-gzip": frozenset({".gz", ".tgz"}),
}
# Images (but SVG, which is text) and PDFs: every such file starts with a signature, so bytes
# nobody recognises are not one, whatever they are declared as (and must not be served under
# an image's or a PDF's type).
SIGNATURE_REQUIRED = frozenset(
    {t for t in SUPPORTED_CONTENT_TYPES if t.startswith("image/")} - TEXT_TYPES
) | {"application/pdf"}
EXECUTABLE_EXTENSIONS = frozenset({".exe", ".dll", ".elf", ".so", ".dylib", ".com", ".msi"})
ISO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".m4a", ".3gp", ".heic", ".heif", ".qt"})


def check_content_type(content_type: str) -> str:
    if content_type not in SUPPORTED_CONTENT_TYPES:
        raise LinqError(ErrorCode.INVALID_FILE_TYPE, f"{content_type} files are not supported")
    return content_type


def _candidates(head: bytes) -> tuple[set[str], set[str]]:
    """The MIME types and extensions puremagic sees in ``head``."""
    # Its signature tables cost ~1.5 MB of memory; a server that takes no upload never loads them.
    import puremagic

    try:
        found = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return set(), set()
    return {m.mime_type for m in found if m.mime_type}, {m.extension.lower() for m in found}


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the sample is still text
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(c.isprintable() or c in "\r\n\t\f" for c in text)


def check_content(declared: str, head: bytes) -> None:
    """Raise 5004 (not allowed) or 5006 (not what it claims) for these first bytes."""
    mimes, extensions = _candidates(head)
    if extensions & EXECUTABLE_EXTENSIONS or head.startswith((b"MZ", b"\x7fELF")):
        raise LinqError(ErrorCode.INVALID_FILE_TYPE, "executable files are not allowed")
    if declared in TEXT_TYPES:
        if not _looks_like_text(head):
            raise LinqError(ErrorCode.CONTENT_TYPE_MISMATCH, f"the file is not {declared}")
        return
    if declared in mimes or extensions & EXTENSIONS.get(declared, frozenset()):
        return
    if declared in ISO_MEDIA and (mimes & ISO_MEDIA or extensions & ISO_EXTENSIONS):
        return
    if declared in ZIP_CONTAINERS and head.startswith(b"PK\x03\x04"):
        return
    if declared in OLE_DOCUMENTS and head.startswith(b"\xd0\xcf\x11\xe0"):
        return
    if mimes or extensions or _looks_like_text(head):
        raise LinqError(ErrorCode.CONTENT_TYPE_MISMATCH, f"the file is not {declared}")
    if declared in SIGNATURE_REQUIRED and not (declared in ISO_MEDIA and head[4:8] == b"ftyp"):
        raise LinqError(
            ErrorCode.INVALID_FILE_TYPE, f"unrecognised file: it has no {declared} signature"
        )
    # Otherwise an unrecognised binary of a format without a fixed signature (raw MP3 or AAC
    # frames, MPEG streams): nothing proves it is not what it claims.


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) read from an image's header, or None when it does not say.

    ``imagesize`` parses the headers of PNG, GIF, JPEG, WebP, HEIC/HEIF, AVIF, TIFF and
    BMP without decoding pixels; imported here, as few requests need it.
    """
    import io

    import imagesize

    try:
        width, height = imagesize.get(io.BytesIO(head))
    except (ValueError, OSError, IndexError, TypeError):
        return None
    if width <= 0 or height <= 0:
        return None
    return int(width), int(height)
