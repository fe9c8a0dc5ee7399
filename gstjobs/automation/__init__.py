"""Events the jobs emit and the rules engine that acts on them."""
