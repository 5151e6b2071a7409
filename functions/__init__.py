"""Trigger adapters: decode the trigger, call one stage in shared/, nothing else."""
