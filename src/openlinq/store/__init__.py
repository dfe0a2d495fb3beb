"""Storage: tables, repositories and migrations behind a small interface."""
