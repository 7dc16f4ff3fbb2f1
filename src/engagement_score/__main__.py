"""``python -m engagement_score`` runs the command line."""

from engagement_score.cli import main

main()
