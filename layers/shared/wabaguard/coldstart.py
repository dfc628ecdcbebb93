"""A function's import — Lambda's init — without the cyclic garbage collector, its clients made
there (issue #26).

A handler module imports this first and calls ``imported(<services>)`` last. Everything its import
builds — modules, classes, PynamoDB models, botocore's loaders and clients — lives as long as the
container, yet the collector scanned it again and again while it grew: ~30 ms of a ~220 ms cold
start here (a bare boto3 handler loses ~10 ms). ``imported()`` makes the function's AWS clients
(as Lambda's guidance has it: in init, not in the first invocation — the bare handler does the
same), freezes what the import built (the collector never scans it again; objects are still freed
when their last reference goes) and turns the collector back on for what invocations allocate: the
sequence the ``gc.freeze`` documentation gives.
"""

from __future__ import annotations

import gc

_was_enabled = gc.isenabled()
gc.disable()

from wabaguard import aws  # noqa: E402  (after the collector is off: botocore is most of the import)


def imported(*services: str) -> None:
    """The handler module is imported: make its clients, freeze what it built, collect again."""
    for service in services:
        aws.client(service)
    gc.freeze()
    if _was_enabled:
        gc.enable()
