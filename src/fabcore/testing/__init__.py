"""Contract test suites and helpers shipped for adapters written outside fabcore."""
