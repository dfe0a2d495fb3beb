"""The console: openlinq's own pages at /console, to watch and drive conversations.

A client of the same services as the API (no second path for business rules): pages
render the contract's views with Jinja2, actions call the domain services, and live
updates come from the event outbox the webhooks use (``live.py``).
"""
