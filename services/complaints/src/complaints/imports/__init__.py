"""Bulk transfers from the national 12315 platform and the 12345 hotline: their export files imported row by row
(docs/transfer-imports.md)."""
