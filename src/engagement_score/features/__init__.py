"""Features stage."""
