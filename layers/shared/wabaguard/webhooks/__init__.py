"""Security webhooks (§Security webhooks): every notice also as a signed event to the customer's
systems. ``events`` types them, ``endpoints`` keeps each account's URL and secrets, ``deliveries``
addresses and delivers them, ``manage`` is what users read and redo."""
