"""The market's hourly phases: posting, matching (search, choose, work), review and settlement, adaptation."""

# Kinds of submission record (``model.records.kind``): how a submission will be settled.
KIND_REVIEW, KIND_AUTO, KIND_ABANDON, KIND_APPEAL = 0, 1, 2, 3
