"""Print a hash of everything the screens are built from (sources, lock, config), for make's build stamp.

Walks the web project except node_modules, so a new file counts before it is committed.
"""

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SKIP = {"node_modules", "__pycache__"}


def main() -> None:
    digest = hashlib.sha256()
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in SKIP or not path.is_file():
            continue
        digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    sys.stdout.write(digest.hexdigest()[:16] + "\n")


if __name__ == "__main__":
    main()
