"""Operator endpoints (staff only): the admin API under /api/v1/admin/."""
