"""Meta's WhatsApp Business Platform, as wabaguard talks to it (§Platform).

``forms`` refuses what Meta would refuse on form before a code is sent; ``graph`` is the Graph API
client; ``changes`` turns an approved key action into a Graph call that is applied once, in order,
and retried until Meta answers.
"""
