"""Turn an API request, in any of the three encodings v2 clients use, into plain parameters.

Clients post form fields (the documents' PHP sample), a JSON body, or GET query parameters; all
three end up as one `dict[str, str]` so the actions never care which was used. Whatever arrives, the
outcome is parameters or IncorrectRequest (or RequestTooLarge): never an exception Django would answer
with an HTML page.
"""

from __future__ import annotations

import codecs
import json
import re
from decimal import Decimal

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError

from orders.validation import whole_number
from providers.ordertypes import FIELDS

MAX_IDS = 100
MAX_ID = 2**63 - 1  # ids beyond a bigint are malformed, not merely unknown
ID_LIST_FIELDS = ("orders", "refills", "cancels")
# The fields a JSON array may fill: id lists and the one-item-per-line fields of the order types.
LIST_FIELDS = frozenset(ID_LIST_FIELDS) | {name for name, spec in FIELDS.items() if spec.kind == "lines"}
# Fields that hold a number: a JSON true/false there is a mistake, not 1/0.
NUMBER_FIELDS = frozenset(("service", "order", "refill", *ID_LIST_FIELDS)) | {
    name for name, spec in FIELDS.items() if spec.kind in ("int", "choice")}
_SURROGATE = re.compile("[\ud800-\udfff]")  # valid in a JSON escape, unencodable for the database


class IncorrectRequest(ValueError):
    """The request itself is malformed; answered as {"error": "Incorrect request"}."""


class RequestTooLarge(IncorrectRequest):
    """The body is larger than the API reads; answered with HTTP 413."""


class FileUploadRefused(MultiPartParserError):
    """A multipart body carries a file: the API takes none, so it is refused before any byte is kept."""


class _RefuseFiles(FileUploadHandler):
    """The only upload handler of an API request: plain form fields pass, the first file part stops parsing."""

    def new_file(self, *args, **kwargs) -> None:
        raise FileUploadRefused("The API takes no file uploads")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:  # never reached: new_file refuses
        return None

    def file_complete(self, file_size: int) -> None:
        return None


def _scalar(name: str, value: object) -> str:
    if isinstance(value, bool):
        if name in NUMBER_FIELDS:
            raise IncorrectRequest(f"A boolean where {name} needs a number")
        return "1" if value else "0"
    if isinstance(value, str | int | Decimal):
        text = str(value)
        if _SURROGATE.search(text):
            raise IncorrectRequest(f"An unpaired surrogate in {name}")
        return text
    raise IncorrectRequest(f"An array or object where {name} needs a single value")


def _flatten(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        # A JSON list: ids joined by commas, list fields (comments, usernames...) one per line. Anywhere
        # else a list is refused rather than read as its first item: `"service": [61]` is not 61.
        if name not in LIST_FIELDS:
            raise IncorrectRequest(f"An array where {name} needs a single value")
        separator = "," if name in ID_LIST_FIELDS else "\n"
        return separator.join(_scalar(name, item) for item in value if item is not None)
    return _scalar(name, value)


def _declared_charset(request: HttpRequest) -> str:
    """The body's charset as the Content-Type names it, when it is a text encoding Python knows; else UTF-8."""
    charset = (request.content_params or {}).get("charset", "").strip()
    if not charset:
        return "utf-8"
    try:
        # Unknown names raise LookupError, and so do bytes-to-bytes codecs (rot13, base64) that
        # codecs.lookup() alone would accept; "undefined" raises UnicodeError.
        "a".encode(charset).decode(charset)
    except (LookupError, ValueError):
        return "utf-8"
    return codecs.lookup(charset).name


def _json_params(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise IncorrectRequest("The body is not valid JSON") from None
    except RecursionError:
        # `[[[[...` nested deeper than the parser's stack: malformed for us, however valid in theory.
        raise IncorrectRequest("The JSON body is nested too deeply") from None
    if not isinstance(data, dict):
        raise IncorrectRequest("The JSON body must be an object")
    params: dict[str, str] = {}
    for name, value in data.items():
        flat = _flatten(name, value)
        if flat is not None:
            params[name] = flat
    return params


def request_params(request: HttpRequest) -> dict[str, str]:
    """Query parameters, overridden by the POST body (form-encoded, multipart or JSON).

    Raises IncorrectRequest for a body that cannot be read as parameters, RequestTooLarge for one
    over Django's DATA_UPLOAD_MAX_MEMORY_SIZE.
    """
    try:
        return _request_params(request)
    except RequestDataTooBig:
        raise RequestTooLarge("The body is too large") from None
    except (SuspiciousOperation, BadRequest, MultiPartParserError, UnicodeError) as exc:
        # Too many fields, a broken multipart body, a file part, an undecodable charset...
        raise IncorrectRequest(str(exc)[:200]) from None


def _request_params(request: HttpRequest) -> dict[str, str]:
    charset = _declared_charset(request)
    # The query string is UTF-8 whatever charset the body declares (Django would decode both alike).
    request.encoding = None
    params: dict[str, str] = {name: request.GET[name] for name in request.GET}
    if request.method != "POST":
        return params
    content_type = (request.content_type or "").lower()
    if content_type == "multipart/form-data":
        request.encoding = charset
        request.upload_handlers = [_RefuseFiles(request)]
        form = request.POST
    elif content_type == "application/x-www-form-urlencoded":
        # Read here rather than through request.POST, which refuses any declared charset but UTF-8
        # (some HTTP libraries declare ISO-8859-1 for every form they send).
        form = QueryDict(request.body, encoding=charset)
    elif content_type == "application/json" or request.body[:1] in (b"{", b"["):
        if not request.body.strip():
            return params
        params.update(_json_params(request.body))
        return params
    else:
        # Form fields sent under a wrong or missing Content-Type (text/plain from some scripts).
        form = QueryDict(request.body, encoding=charset)
    for name in form:
        params[name] = form[name]
    return params


def parse_id(raw: str) -> int:
    """One id: a positive whole number in ASCII digits. Raises IncorrectRequest."""
    value = whole_number(raw)
    if value is None or not 1 <= value <= MAX_ID:
        raise IncorrectRequest(f"Malformed id: {raw[:20]!r}")
    return value


def parse_id_list(raw: str) -> list[int]:
    """Comma-separated ids (a comma may arrive still percent-encoded), at most MAX_IDS, order kept."""
    text = raw.replace("%2C", ",").replace("%2c", ",")
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise IncorrectRequest("No ids")
    if len(parts) > MAX_IDS:
        raise IncorrectRequest(f"More than {MAX_IDS} ids")
    ids = []
    for part in parts:
        # parse_id inlined for the plain case (resellers poll 100 ids at a time): ASCII digits, in range.
        digits = part.strip()
        value = int(digits) if len(digits) <= 19 and digits.isascii() and digits.isdigit() else 0
        ids.append(value if 1 <= value <= MAX_ID else parse_id(part))
    # A repeated id is asked once: one refill or cancel per order, one answer per id.
    return list(dict.fromkeys(ids))


def plain_decimal(value: Decimal) -> str:
    """A decimal as clients expect it: no exponent, trailing zeros trimmed to at least two places."""
    text = str(value)  # fast, and exponent-free for the fixed 5-place money values the database returns
    if "E" in text or "e" in text:
        text = format(value, "f")
    return plain_decimal_text(text)


def plain_decimal_text(text: str) -> str:
    """`plain_decimal` of a decimal already written out without an exponent (as PostgreSQL writes numerics)."""
    dot = text.find(".")
    if dot < 0:
        return text + ".00"
    text = text.rstrip("0")
    return text if len(text) - dot > 2 else text.ljust(dot + 3, "0")
