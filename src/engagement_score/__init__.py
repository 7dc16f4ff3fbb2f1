"""Engagement Score: a calibrated 0-100 engagement score for advocacy programs."""

__version__ = "0.1.0"
