"""The period report: the figures of a bureau's annual report regenerated from the data for any region and period."""
