"""The publish pipeline: stages as plain functions, their order, and the effects of outcomes."""
