"""The built-in carrier: a simulated phone for every recipient handle."""
