"""The fault suite of issue 9: property-based fuzzing of the command line and the settings."""
