"""wabaguard domain package, shared by every function through the Lambda layer.

Nothing in here knows about Lambda events: handlers parse events, call these modules, and shape
responses.
"""

import sys as _sys

# botocore imports urllib3's pyOpenSSL shim whenever pyOpenSSL is installed, and py_webauthn needs
# pyOpenSSL (for attestation certificate chains): without this line every function's cold start
# would load pyOpenSSL and cryptography (~85 ms) for nothing. botocore falls back to the standard
# library's ssl, as it does where pyOpenSSL is absent; passkey checks still import it when they run.
_sys.modules.setdefault("urllib3.contrib.pyopenssl", None)  # type: ignore[arg-type]
