"""A file download, the same for the console and the API: streamed in chunks, always saved
rather than shown (Content-Disposition: attachment), and never sniffed into something a
browser would run."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import StreamingResponse

from postroom.services.request_files import Download


def disposition(filename: str) -> str:
    """An ASCII name for old clients and the exact one in RFC 6266's filename* for the rest."""
    plain = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download(file: Download) -> StreamingResponse:
    return StreamingResponse(
        file.chunks(),
        media_type=file.content_type,
        headers={
            "Content-Disposition": disposition(file.filename),
            "Content-Length": str(file.size),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
            "Cache-Control": "private, no-store",
        },
    )
