"""§Mail delivery: security mail that cannot silently fail.

``sent`` records what SES accepted, by message id; ``ses`` reads SES's own events (the event
publishing format, as EventBridge delivers it); ``outcomes`` moves a delivery on and acts on a
failure — the recipient's ``email_status``, the admins told, the hygiene flag, a Partner change's
delivered notices.
"""
