"""Outgoing mail: one `Mailer` built from settings (file, console or SMTP)."""
