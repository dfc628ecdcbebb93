"""wabaguard domain package, shared by every function through the Lambda layer.

Nothing in here knows about Lambda events: handlers parse events, call these modules, and shape
responses.
"""
