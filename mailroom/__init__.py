"""mailroom: warehouse-native e-mail personalization on dbt."""

import warnings
from pathlib import Path

__version__ = "0.1.0"

PROJECT_DIR = Path(__file__).resolve().parent.parent

# snowflake-connector-python's vendored requests warns on import that the
# installed urllib3 and chardet are newer than the versions it lists: not ours
# to fix, and it printed in the middle of every build's progress.
warnings.filterwarnings("ignore", message=r"urllib3 .* doesn't match a supported version")
