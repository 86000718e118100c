"""Shared kernel of every stage: models, statuses, settings, clock, AWS clients and the data-access layer."""
