"""The version resource of invigil.exe (Explorer's Properties > Details, and what inventory tools read), made from
sync/version.py's VERSION. build/invigil.spec writes it to a file and passes that to PyInstaller's EXE when it builds
on Windows.

Written as text in PyInstaller's version-file format (what `pyi-grab_version` prints), not built from PyInstaller's
classes: those import pefile, which PyInstaller installs only on Windows, and this must load (and be tested) here.
"""

from __future__ import annotations

import re

LANGUAGE_CODEPAGE = "040904B0"
"""U.S. English, Unicode: the string table Windows shows when none matches the user's language."""


def version_numbers(version: str) -> tuple[int, int, int, int]:
    """The four numbers Windows keeps: "0.1.0" -> (0, 1, 0, 0); a pre-release or local part is dropped."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?", version)
    if match is None:
        raise ValueError(f"VERSION {version!r} does not start with a number; Windows needs up to four")
    major, minor, patch, build = (int(part or 0) for part in match.groups())
    return major, minor, patch, build


def version_file_text(version: str) -> str:
    numbers = version_numbers(version)
    strings = {
        "CompanyName": "Invigil",
        "FileDescription": "Invigil test player",
        "FileVersion": version,
        "InternalName": "invigil",
        "LegalCopyright": "Apache License 2.0",
        "OriginalFilename": "invigil.exe",
        "ProductName": "Invigil",
        "ProductVersion": version,
    }
    table = ",\n".join(f"          StringStruct({key!r}, {value!r})" for key, value in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={numbers!r}, prodvers={numbers!r}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([
      StringTable({LANGUAGE_CODEPAGE!r}, [
{table}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""
