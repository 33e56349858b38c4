"""The client portal (setting 620): clients log in and read the messages the practice sent them."""
