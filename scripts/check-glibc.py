"""Fails when the Lambda binary needs a newer glibc than the runtime has.

Usage: check-glibc.py ZIP MAX_VERSION
Reads the ELF dynamic symbol versions (GLIBC_x.y) of `bootstrap` in ZIP.
"""
import re
import sys
import zipfile


def versions(binary: bytes) -> list[tuple[int, ...]]:
    found = set(re.findall(rb"GLIBC_(\d+(?:\.\d+)+)", binary))
    return sorted(tuple(int(p) for p in v.decode().split(".")) for v in found)


def main() -> int:
    package, limit = sys.argv[1], tuple(int(p) for p in sys.argv[2].split("."))
    with zipfile.ZipFile(package) as z:
        info = z.getinfo("bootstrap")
        mode = info.external_attr >> 16
        needed = versions(z.read("bootstrap"))
    if not mode & 0o111:
        print(f"{package}: bootstrap is not executable (mode {oct(mode)})")
        return 1
    highest = needed[-1] if needed else ()
    text = ".".join(map(str, highest)) or "none"
    print(f"{package}: bootstrap needs GLIBC {text} at most (limit {sys.argv[2]})")
    return 0 if highest <= limit else 1


if __name__ == "__main__":
    sys.exit(main())
