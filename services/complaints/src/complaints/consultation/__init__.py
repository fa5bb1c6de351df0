"""Consultations (咨询): a question to the bureau, answered within its working-day clock; a third track beside
complaints and reports, outside Order 121 (Art. 44)."""
