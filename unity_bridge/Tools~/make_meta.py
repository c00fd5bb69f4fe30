#!/usr/bin/env python3
"""Write the .meta files Unity needs for an immutable (git URL) package.

Unity ignores assets without a .meta file in immutable packages. GUIDs are derived from the
package-relative path, so re-running is stable and only adds what is missing; folders whose
name ends in "~" are invisible to Unity and skipped. Run after adding or renaming files:

    python3 unity_bridge/Tools~/make_meta.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent

FOLDER = "folderAsset: yes\nDefaultImporter:\n"
IMPORTERS = {
    ".cs": (
        "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
        "  executionOrder: 0\n  icon: {instanceID: 0}\n"
    ),
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n",
    ".json": "PackageManifestImporter:\n  externalObjects: {}\n",
    ".md": "TextScriptImporter:\n  externalObjects: {}\n",
}
TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"


def assets(root: Path) -> list[Path]:
    """Every file and folder Unity imports (not hidden, not in a "~" folder, not a .meta)."""
    found = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or path.name.endswith("~") or path.suffix == ".meta":
            continue
        found.append(path)
        if path.is_dir():
            found.extend(assets(path))
    return found


def meta_text(path: Path) -> str:
    rel = path.relative_to(PACKAGE).as_posix()
    guid = hashlib.md5(f"dev.npcruntime.bridge/{rel}".encode()).hexdigest()
    if path.is_dir():
        body = FOLDER + "  externalObjects: {}\n"
    else:
        body = IMPORTERS.get(path.suffix, "DefaultImporter:\n  externalObjects: {}\n")
    return f"fileFormatVersion: 2\nguid: {guid}\n{body}{TAIL}"


def main() -> None:
    for path in assets(PACKAGE):
        meta = path.with_name(path.name + ".meta")
        if not meta.exists():
            meta.write_text(meta_text(path))
            print(f"wrote {meta.relative_to(PACKAGE)}")


if __name__ == "__main__":
    main()
