"""The headers every page and asset of the web app carries.

The pages load only their own scripts and styles (no inline script or style, no `eval`), and may
not be framed: an injected `<script>` neither runs nor loads anything, and clickjacking is out.
Trusted Types make a string assigned to `innerHTML` throw, so output is text or it is nothing; the
one policy allowed is DOMPurify's (`dompurify`), which parses the model's Markdown into sanitized nodes.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types dompurify",  # the sanitizer's own policy, and no other
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a mailed token in a page's URL goes nowhere else
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
