"""In-memory fakes of the areas' ports, one module per area, for use-case unit tests."""
