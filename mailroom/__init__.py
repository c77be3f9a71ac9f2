"""mailroom: warehouse-native e-mail personalization on dbt."""

from pathlib import Path

__version__ = "0.1.0"

PROJECT_DIR = Path(__file__).resolve().parent.parent
