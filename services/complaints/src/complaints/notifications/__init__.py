"""Text messages to consumers: sign-in codes for the gateway and case notifications, through an outbox of their own."""
