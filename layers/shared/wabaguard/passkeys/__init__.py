"""Passkeys (§Passkeys): WebAuthn credentials that approve key actions by signing the exact request.

``binding`` derives the WebAuthn challenge from the request (no dependencies: the receipt verifier
and the approval page use it too); ``store`` reads and writes a user's passkeys; ``registration``
makes the options and checks a new credential; ``assertions`` checks a signature against the
request being made; ``policy`` says which key actions need a passkey; ``receipts`` keeps and serves
what was signed; ``page`` is wabaguard's approval page. ``webauthn`` (py_webauthn) and its crypto
are imported only inside the functions that check a credential, never by the authorizer's cold start.
"""
