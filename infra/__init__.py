"""Infrastructure helpers for running duesflow locally."""
