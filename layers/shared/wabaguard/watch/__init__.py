"""The WABA watch (§WABA watch): changes made at Meta that never passed through wabaguard.

``reads`` reads a WABA's state through the Graph API, ``compare`` finds and explains differences,
``schedule`` says when each WABA is read, ``runner`` is one scheduled run.
"""
