"""`Content-Disposition` values for downloads, per RFC 6266 with RFC 8187 encoding.

A client's file name is never pasted into the header: control characters are dropped, the
UTF-8 name travels percent-encoded in `filename*` (RFC 8187 `ext-value`), and `filename` carries
a plain-ASCII fallback for old clients (RFC 6266, appendix D) made of safe characters only. The
header is assembled by werkzeug's `dump_options_header` (quoting as RFC 9110 prescribes).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from werkzeug.http import dump_options_header

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE_FALLBACK = re.compile(r"[^A-Za-z0-9._() -]+")
# RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`"
# / "|" / "~"; everything else is percent-encoded.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"


def clean_filename(filename: str) -> str:
    """`filename` without control characters (C0, DEL, C1), path separators and surrounding
    blanks; unchanged otherwise (Unicode kept)."""
    name = _CONTROL.sub("", unicodedata.normalize("NFC", filename))
    name = name.replace("/", "_").replace("\\", "_")
    return name.strip()


def ascii_fallback(filename: str, default: str = "download") -> str:
    """A plain ASCII stand-in for `filename`: accents folded (NFKD), then every run of characters
    other than letters, digits, space and `._()-` replaced by `_`; `default` stands in for a name
    left empty or starting with a dot (`照片.png` -> `download.png`)."""
    folded = unicodedata.normalize("NFKD", clean_filename(filename))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE_FALLBACK.sub("_", ascii_only).strip()
    if not name.strip("."):
        return default
    return default + name if name.startswith(".") else name


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """The `Content-Disposition` value offering `filename`: `attachment; filename="<ascii>";
    filename*=UTF-8''<percent-encoded>` (the second part only when the name is not already the
    plain fallback). Safe for any input: no control characters, quotes or `;` can escape."""
    name = clean_filename(filename) or "download"
    fallback = ascii_fallback(name)
    options: dict[str, str] = {"filename": fallback}
    if fallback != name:
        options["filename*"] = "UTF-8''" + quote(name, safe=_ATTR_CHAR_SAFE)
    return dump_options_header(disposition, options)
