"""Unauthenticated inbound HTTP: workflow webhooks, public approval pages, vendor callbacks.

None of these routes take a bearer token; each authenticates the request its own way (a
secret URL token compared in constant time, a single-use approval token, a vendor signature
checked with the connection's secret) and answers an unknown or wrong one exactly like a
missing resource.
"""
