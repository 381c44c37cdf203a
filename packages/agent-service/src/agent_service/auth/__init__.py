"""Authentication: passwords, JWTs, email verification and password reset."""
