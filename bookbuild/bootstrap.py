"""Install what the build needs, then run it inside the project's venv.

Standard library only: this runs under the system Python of a fresh
machine, before any dependency exists.  System packages (TeX Live, latexmk,
biber, fonts, poppler) are apt-installed only when missing; the venv is
(re)installed only when pyproject.toml changed since the last install.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("BOOK_VENV", ROOT / ".venv"))
STAMP = VENV / ".installed-pyproject"

# (what to look for, Debian package that provides it)
COMMANDS = [
    ("latexmk", "latexmk"),
    ("lualatex", "texlive-luatex"),
    ("biber", "biber"),
    ("pdftotext", "poppler-utils"),
    ("pdftoppm", "poppler-utils"),
    ("makeindex", "texlive-binaries"),
]
TEX_FILES = [
    ("fvextra.sty", "texlive-latex-extra"),
    ("tcolorbox.sty", "texlive-latex-extra"),
    ("biblatex.sty", "texlive-bibtex-extra"),
    ("tikz.sty", "texlive-pictures"),
    ("scrbook.cls", "texlive-latex-recommended"),
    ("microtype.sty", "texlive-latex-recommended"),
    ("unicode-math.sty", "texlive-latex-recommended"),
]
FONTS = [
    ("TeX Gyre Pagella", "fonts-texgyre"),
    ("TeX Gyre Pagella Math", "fonts-texgyre-math"),
    ("DejaVu Sans Mono", "fonts-dejavu-core"),
    ("Noto Sans CJK SC", "fonts-noto-cjk"),
    ("Symbola", "fonts-symbola"),
]  # emoji and symbols, in black and white for print

# The corpus is made from what Debian installs: the Python documentation and
# the standard library's sources, its tests included, of one Python version.
DATA = [
    ("/usr/share/doc/python3/html/library", "python3-doc"),
    ("/usr/lib/python3.11/json/__init__.py", "libpython3.11-stdlib"),
    ("/usr/lib/python3.11/test/test_json", "libpython3.11-testsuite"),
]


def missing_system_packages() -> list[str]:
    missing = [pkg for cmd, pkg in COMMANDS if not shutil.which(cmd)]
    if shutil.which("kpsewhich"):
        found = subprocess.run(
            ["kpsewhich", *(f for f, _ in TEX_FILES)], capture_output=True, text=True
        ).stdout
        missing += [pkg for f, pkg in TEX_FILES if f"/{f}" not in found]
    else:
        missing += [pkg for _, pkg in TEX_FILES]
    fonts = (
        subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
        if shutil.which("fc-list")
        else ""
    )
    missing += [pkg for family, pkg in FONTS if family not in fonts]
    missing += [pkg for path, pkg in DATA if not Path(path).exists()]
    return sorted(set(missing))


def install_system_packages(packages: list[str]) -> None:
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    sudo = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else None)
    if sudo is None or not shutil.which("apt-get"):
        sys.exit(f"error: missing system packages; install them with:\n  sudo {' '.join(command)}")
    print(
        f"bootstrap: installing {' '.join(packages)} (TeX Live is large: a few minutes)",
        file=sys.stderr,
    )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + command, check=True, env=env, stdout=subprocess.DEVNULL)


def venv_python() -> Path:
    return VENV / "bin" / "python"


def venv_is_current() -> bool:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return venv_python().exists() and STAMP.exists() and STAMP.read_text() == wanted


def ensure_venv() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    print(f"bootstrap: installing Python dependencies into {VENV}", file=sys.stderr)
    if not venv_python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # torch first and alone, so the pinned CPU wheel is what satisfies every
    # later requirement (never a CUDA build pulled in by a dependency).
    subprocess.run(pip + ["torch==2.13.0"], check=True)
    subprocess.run(pip + ["-e", f"{ROOT}[book,dev]"], check=True)
    STAMP.write_text(wanted)


def ensure() -> None:
    """Install what is missing; re-run this command inside the venv."""
    # Checked once per install of the venv: a no-op rebuild stays fast.
    if os.environ.get("BOOK_BOOTSTRAPPED") != "1" and not venv_is_current():
        missing = missing_system_packages()
        if missing:
            install_system_packages(missing)
        ensure_venv()
    if Path(sys.prefix).resolve() != VENV.resolve():
        env = dict(os.environ, BOOK_BOOTSTRAPPED="1")
        os.execve(str(venv_python()), [str(venv_python()), *sys.argv], env)
