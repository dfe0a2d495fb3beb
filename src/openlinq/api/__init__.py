"""The HTTP edge: thin handlers that authenticate, validate, call one service, respond."""
