"""Small shared helpers: backend detection and logging."""
