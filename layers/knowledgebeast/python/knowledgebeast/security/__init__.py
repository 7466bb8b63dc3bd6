"""Authentication, authorisation and rate limiting."""
