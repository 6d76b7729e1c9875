"""Model inference: cards, the TFLite engine, and the shared preprocessing."""
