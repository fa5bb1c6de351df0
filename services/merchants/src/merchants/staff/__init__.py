"""Staff accounts managed by regulator staff administrators, and each staff member's own sign-in settings."""
