"""The fault suite of issue 9: kills and signals across every job, and property-based
fuzzing of the command line and the settings."""
