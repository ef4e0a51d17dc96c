"""Test clocks: simulated time and advancing it through every piece of work that comes due."""
