"""The zip Snowflake imports so that the Python models can `import mailroom.pymodels`.

On Snowflake a Python model runs as a stored procedure that sees only the
packages it names and the staged files in its `imports` (the
`snowflake_python_imports` var); a staged zip is importable like a folder on
the path. The zip holds `mailroom/__init__.py` and this package's modules,
nothing else of mailroom (docs/snowflake.md):

    zip_package("mailroom_pymodels.zip")
    # PUT file://mailroom_pymodels.zip @mailroom_code AUTO_COMPRESS = FALSE OVERWRITE = TRUE
    # mailroom build --target snowflake \\
    #     --var 'snowflake_python_imports=["@mailroom_code/mailroom_pymodels.zip"]'
"""

from __future__ import annotations

import zipfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# Fixed entry times: the same sources give the same bytes (an unchanged zip
# need not be staged again).
_ENTRY_TIME = (1980, 1, 1, 0, 0, 0)


def package_files() -> dict[str, Path]:
    """Name in the zip -> file: mailroom/__init__.py and mailroom/pymodels/*.py."""
    files = {"mailroom/__init__.py": PACKAGE_DIR.parent / "__init__.py"}
    for module in sorted(PACKAGE_DIR.glob("*.py")):
        files[f"mailroom/pymodels/{module.name}"] = module
    return files


def zip_package(path: str | Path) -> Path:
    """Write the zip of mailroom.pymodels for Snowflake's `imports` at `path`; returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, source in package_files().items():
            entry = zipfile.ZipInfo(name, date_time=_ENTRY_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, source.read_bytes())
    return path
