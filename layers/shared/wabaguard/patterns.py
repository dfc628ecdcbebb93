"""The shapes of identifiers, shared by the pydantic bodies (``strict``) and the hand-checked
activity records (``ingest``), which must not import pydantic to learn them."""

ID = r"^[A-Za-z0-9_-]{1,64}$"
COUNTRY = r"^[A-Z]{2}$"  # ISO 3166-1 alpha-2, as producers and Meta send it
