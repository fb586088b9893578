"""Contacts and calendar events kept in step with the mail account behind a mailbox."""
