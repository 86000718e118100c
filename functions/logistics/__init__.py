"""Logistics exceptions: damaged or lost parcels, shipments stuck past their SLA (docs/shipping.md)."""
