"""The SMSC callback protocol: decoding, typed models, signatures and code tables. Pure: no I/O.

request = decode_request(body, query_string, content_type)     # bytes -> parameters (text)
verify_signature(classify(request.params), request.params, secret, charset=request.charset)
callback = parse_callback(request.params, tz=account_timezone("Europe/Moscow"))
"""

from smsc.charsets import DEFAULT_CHARSET, SUPPORTED_CHARSETS
from smsc.codes import (
    ERROR_CODES,
    MESSAGE_TYPES,
    STATUS_CODES,
    Outcome,
    VoiceOutcome,
    error_category,
    error_description,
    message_type_name,
    status_outcome,
    voice_outcome,
)
from smsc.encode import EncodedRequest, encode_request
from smsc.errors import DecodeError, EncodeError, FieldError, InputTooLargeError, SignatureError, SmscError
from smsc.flag import Balance, Flag, TemplateKind
from smsc.kinds import CallbackKind, classify, message_key
from smsc.models import (
    Callback,
    CallConfirmation,
    HlrResult,
    IncomingSms,
    Signature,
    StatusCallback,
    VoiceMenu,
)
from smsc.parse import DEFAULT_ACCOUNT_TIMEZONE, account_timezone, parse_callback
from smsc.signature import SignatureAlgorithm, check_secret, sign, verify_signature
from smsc.wire import DEFAULT_LIMITS, BodyFormat, DecodedRequest, Limits, decode_request

__all__ = [
    "DEFAULT_ACCOUNT_TIMEZONE",
    "DEFAULT_CHARSET",
    "DEFAULT_LIMITS",
    "ERROR_CODES",
    "MESSAGE_TYPES",
    "STATUS_CODES",
    "SUPPORTED_CHARSETS",
    "Balance",
    "BodyFormat",
    "CallConfirmation",
    "Callback",
    "CallbackKind",
    "DecodeError",
    "DecodedRequest",
    "EncodeError",
    "EncodedRequest",
    "FieldError",
    "Flag",
    "HlrResult",
    "IncomingSms",
    "InputTooLargeError",
    "Limits",
    "Outcome",
    "Signature",
    "SignatureAlgorithm",
    "SignatureError",
    "SmscError",
    "StatusCallback",
    "TemplateKind",
    "VoiceMenu",
    "VoiceOutcome",
    "account_timezone",
    "check_secret",
    "classify",
    "decode_request",
    "encode_request",
    "error_category",
    "error_description",
    "message_key",
    "message_type_name",
    "parse_callback",
    "sign",
    "status_outcome",
    "verify_signature",
    "voice_outcome",
]
