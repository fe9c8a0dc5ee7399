"""Operating gstjobs: what is due (run-due), doctor, metrics."""
