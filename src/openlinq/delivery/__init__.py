"""Getting messages to phones: the Carrier seam and its implementations."""
