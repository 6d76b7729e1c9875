"""Evaluation of the shipped detectors on a folder of recordings (fedwear eval)."""
