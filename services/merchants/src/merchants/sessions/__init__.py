"""Sessions: the families of rotating refresh tokens behind consumers' and staff members' short access tokens."""
