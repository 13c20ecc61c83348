"""The archive's fixed Parquet schema: one flat row per `smsc.events` event, every kind the same columns."""

from __future__ import annotations

from typing import Final

import pyarrow as pa

UTC_NS: Final = pa.timestamp("ns", tz="UTC")
#: Money: exact in the file (SMSC sends at most 4 decimals, in the account's currency, RUB by default).
COST: Final = pa.decimal128(18, 4)
KINDS: Final = ("status", "incoming", "call_confirmation")

#: Column -> type. `kind` and `date` are hive partition keys (directories), not stored in the files.
SCHEMA: Final = pa.schema(
    [
        ("v", pa.int16()),
        ("account", pa.string()),
        ("key", pa.string()),
        ("event_time", UTC_NS),  # occurred_at, else received_at: what --since/--until and `date` use
        ("received_at", UTC_NS),
        ("occurred_at", UTC_NS),
        ("raw_partition", pa.int32()),
        ("raw_offset", pa.int64()),
        ("signature_algorithm", pa.string()),
        # status
        ("id", pa.string()),
        ("phone", pa.string()),
        # where the message went (event version 2): set once per message by the stream worker
        ("country", pa.string()),
        ("carrier", pa.string()),
        ("carrier_source", pa.string()),
        ("status", pa.int16()),
        ("status_name", pa.string()),
        ("outcome", pa.string()),
        ("ts", UTC_NS),
        ("time", UTC_NS),
        ("err", pa.int16()),
        ("err_category", pa.string()),
        ("syserr", pa.string()),
        ("cnt", pa.int32()),
        ("type", pa.int16()),
        ("type_name", pa.string()),
        ("cost", COST),
        ("flag", pa.int32()),
        ("balance", pa.string()),
        ("template_kind", pa.string()),
        ("sender", pa.string()),
        ("dtmf", pa.string()),
        ("cmt", pa.string()),
        ("overtime_seconds", pa.int32()),
        ("voice_outcome", pa.string()),
        ("imsi", pa.string()),
        ("msc", pa.string()),
        ("mcc", pa.int32()),
        ("mnc", pa.string()),
        ("hlr_country", pa.string()),
        ("hlr_network", pa.string()),
        ("hlr_roaming_country", pa.string()),
        ("hlr_roaming_network", pa.string()),
        ("calltime_seconds", pa.int32()),
        ("callmenu", pa.string()),
        ("ringtime_seconds", pa.int32()),
        # incoming SMS
        ("sms_id", pa.string()),
        ("mes", pa.string()),
        ("to", pa.string()),
        ("smsc", pa.string()),
        ("sent", UTC_NS),
        ("is_reply", pa.bool_()),
        # call confirmation
        ("waitcall", pa.int16()),
        # parameters the protocol library did not know, as a JSON object
        ("extra", pa.string()),
    ]
)

#: Low-cardinality text columns: pandas `category` after `load_events`.
CATEGORICAL: Final = (
    "account",
    "signature_algorithm",
    "status_name",
    "outcome",
    "err_category",
    "type_name",
    "balance",
    "template_kind",
    "sender",
    "voice_outcome",
    "country",
    "carrier",
    "carrier_source",
    "hlr_country",
    "hlr_network",
    "hlr_roaming_country",
    "hlr_roaming_network",
    "callmenu",
    "to",
    "smsc",
)
#: Small integer codes: pandas `category` of their values too (`err`, `status`, `type`).
CATEGORICAL_CODES: Final = ("status", "err", "type")
#: The destination columns: what a row of an event of version 1 (no destination) reads in them.
DESTINATION_COLUMNS: Final = ("country", "carrier", "carrier_source")
#: Event version 1 called the HLR answer's fields by these names (its `country` is version 2's
#: `hlr_country`; `country` now holds the destination). Files written then have these columns.
V1_HLR_COLUMNS: Final = {
    "hlr_country": "country",
    "hlr_network": "network",
    "hlr_roaming_country": "roaming_country",
    "hlr_roaming_network": "roaming_network",
}
#: Columns only files of version 1 have: read (never written) to fill the `hlr_*` columns of their rows.
V1_ONLY_COLUMNS: Final = tuple(name for name in V1_HLR_COLUMNS.values() if name not in SCHEMA.names)
TIME_COLUMNS: Final = tuple(field.name for field in SCHEMA if field.type == UTC_NS)
