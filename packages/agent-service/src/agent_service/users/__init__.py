"""Users: accounts, roles and the admin/self rules."""
