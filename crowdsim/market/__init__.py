"""The market's hourly phases: posting, matching (search, choose, work), review and settlement, adaptation."""
