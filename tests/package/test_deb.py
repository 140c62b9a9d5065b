"""test_deb.py - the Debian package contrib/build-deb.sh makes installs,
works and purges cleanly on a fresh Debian 12.

- The .deb holds the programs, both manual pages, the system and user
  units (naming the sepayfs the package installs), the mount, automount
  and fstab examples and the copyright; everything belongs to root; its
  Depends: name the libraries and fuse3.
- lintian finds no error (its warnings are printed, not failed on).
- In a minimal Debian 12 root made by debootstrap, `apt-get install
  ./sepayfs_*.deb` pulls what the package needs, `sepayfs --version` runs
  and `man -w` finds both pages; the installed units pass
  `systemd-analyze verify` there (system and user); `dpkg --purge` then
  removes every path the package listed and the system unit's cache, and
  leaves a credentials file and token files alone.

The root needs root (debootstrap, chroot) and the Debian mirror
(SEPAYFS_DEBIAN_MIRROR, default http://deb.debian.org/debian): without
either, that test is skipped and says why.  Nothing is mounted in the root.
debootstrap keeps the packages it fetched in the work folder
(SEPAYFS_PACKAGE_WORK, the build folder's tests/package under meson) for
the next run.
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("SEPAYFS_PACKAGE_WORK") or REPO / "build" / "tests" / "package")
MIRROR = os.environ.get("SEPAYFS_DEBIAN_MIRROR") or "http://deb.debian.org/debian"
SUITE = "bookworm"

# Bounded waits for a loaded 2-core CI machine and a slow mirror.
BUILD_TIMEOUT = 300
DEBOOTSTRAP_TIMEOUT = 600
APT_TIMEOUT = 300
TOOL_TIMEOUT = 120

UNIT = "lib/systemd/system/sepayfs@.service"
USER_UNIT = "usr/lib/systemd/user/sepayfs@.service"
EXPECTED = {
    "usr/bin/sepayfs",
    "usr/bin/sepayfs-login",
    "usr/share/man/man1/sepayfs.1.gz",
    "usr/share/man/man1/sepayfs-login.1.gz",
    UNIT,
    USER_UNIT,
    "usr/share/doc/sepayfs/examples/fstab.example",
    "usr/share/doc/sepayfs/examples/sepayfs.mount",
    "usr/share/doc/sepayfs/examples/sepayfs.automount",
    "usr/share/doc/sepayfs/examples/smb.conf.example",
    "usr/share/doc/sepayfs/examples/exports.example",
    "usr/share/doc/sepayfs/copyright",
    "usr/share/doc/sepayfs/changelog.gz",
}


def _run(argv, timeout=TOOL_TIMEOUT, **kw):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, **kw)


def _phase(name, started):
    """One line of how long a phase took, shown with -s and in failures."""
    print(f"{name}: {time.monotonic() - started:.1f} s", flush=True)


@pytest.fixture(scope="module")
def deb():
    if not (shutil.which("dpkg-deb") and shutil.which("dpkg-buildflags")
            and shutil.which("dpkg-shlibdeps")):
        pytest.skip("dpkg-dev is not installed (contrib/install-deps.sh installs it)")
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    r = _run([str(REPO / "contrib" / "build-deb.sh"), str(WORK / "build-deb")],
             timeout=BUILD_TIMEOUT, cwd=REPO)
    _phase("build-deb.sh", started)
    assert r.returncode == 0, f"build-deb.sh exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    last = r.stdout.strip().splitlines()[-1]
    path = Path(last)
    assert path.is_absolute() and path.is_file(), f"build-deb.sh's last line is no .deb: {last!r}"
    arch = _run(["dpkg", "--print-architecture"]).stdout.strip()
    assert path.name.startswith("sepayfs_") and path.name.endswith(f"_{arch}.deb"), path.name
    return path


def _field(deb, name):
    r = _run(["dpkg-deb", "--field", str(deb), name])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _listing(deb):
    """{path without ./: (mode string, owner/group)} of dpkg -c."""
    r = _run(["dpkg", "-c", str(deb)])
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        fields = line.split(None, 5)
        name = fields[5].split(" -> ")[0]
        out[name.removeprefix("./").rstrip("/")] = (fields[0], fields[1])
    out.pop("", None)
    return out


def test_package_holds_programs_pages_units_and_examples(deb):
    listing = _listing(deb)
    missing = sorted(EXPECTED - set(listing))
    assert not missing, f"dpkg -c {deb.name} lacks: {', '.join(missing)}"
    assert listing["usr/bin/sepayfs"][0] == "-rwxr-xr-x"
    assert listing["usr/bin/sepayfs-login"][0] == "-rwxr-xr-x"
    not_roots = sorted(p for p, (_, owner) in listing.items() if owner != "root/root")
    assert not not_roots, f"not root's: {not_roots}"
    # What the package must never ship: configuration or state of its own
    # (credentials live in /etc/sepayfs, the cache in /var/cache/sepayfs).
    assert not [p for p in listing if p.startswith(("etc", "var"))], sorted(listing)


def test_package_depends_on_its_libraries_and_fuse3(deb):
    depends = [d.strip().split()[0] for d in _field(deb, "Depends").split(",")]
    for name in ("libc6", "libfuse3-3", "libcurl4", "libjansson4", "fuse3"):
        assert name in depends, f"Depends: {depends}"
    assert "attr" in [d.strip() for d in _field(deb, "Recommends").split(",")]
    r = _run(["meson", "introspect", "--projectinfo", str(REPO / "meson.build")])
    assert r.returncode == 0, r.stderr
    assert _field(deb, "Version") == json.loads(r.stdout)["version"]


def test_units_run_the_installed_daemon(deb, tmp_path):
    r = _run(["dpkg-deb", "-x", str(deb), str(tmp_path)])
    assert r.returncode == 0, r.stderr
    for unit in (UNIT, USER_UNIT):
        lines = (tmp_path / unit).read_text(encoding="utf-8").splitlines()
        start = [l for l in lines if l.startswith("ExecStart=")]
        assert start and start[0].split("=", 1)[1].split()[0] == "/usr/bin/sepayfs", (unit, start)


def test_lintian_finds_no_error(deb):
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (contrib/install-deps.sh --test installs it)")
    started = time.monotonic()
    r = _run(["lintian", "--info", "--display-info", "--display-experimental", "--pedantic",
              str(deb)], timeout=300)
    _phase("lintian", started)
    print(r.stdout)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert not errors, "lintian:\n" + r.stdout
    # 0: clean; 1: tags at or above its fail-on level, errors only (checked
    # above).  Anything else is lintian failing to run.
    assert r.returncode in (0, 1), f"lintian exited {r.returncode}:\n{r.stderr}"


# ---- a fresh Debian 12 ------------------------------------------------------

def _mounts_below(path):
    prefix = str(path).rstrip("/") + "/"
    with open("/proc/mounts", encoding="utf-8") as f:
        return [line.split()[1] for line in f if (line.split()[1] + "/").startswith(prefix)]


def _remove_root(root):
    # A mount inside would make rm -r reach outside the root: refuse.
    mounted = _mounts_below(root)
    assert not mounted, f"{root} has mounts inside, left in place: {mounted}"
    shutil.rmtree(root, ignore_errors=True)


def _mirror_reachable():
    url = f"{MIRROR}/dists/{SUITE}/InRelease"
    try:
        with urllib.request.urlopen(url, timeout=15) as answer:
            answer.read(64)
        return None
    except (urllib.error.URLError, OSError) as e:
        return f"{url}: {e}"


@pytest.fixture(scope="module")
def fresh_root():
    """A minimal Debian 12 (debootstrap --variant=minbase), removed after."""
    if os.geteuid() != 0:
        pytest.skip("installing into a fresh root needs root (debootstrap, chroot)")
    if not shutil.which("debootstrap"):
        pytest.skip("debootstrap is not installed (contrib/install-deps.sh --test installs it)")
    trouble = _mirror_reachable()
    if trouble:
        pytest.skip(f"the Debian mirror cannot be reached: {trouble}")
    cache = WORK / "debootstrap-cache"
    cache.mkdir(parents=True, exist_ok=True)
    for old in WORK.glob("root-*"):  # left by a run that was killed
        _remove_root(old)
    root = Path(tempfile.mkdtemp(prefix="root-", dir=WORK))
    try:
        started = time.monotonic()
        log = WORK / "debootstrap.log"
        with open(log, "w", encoding="utf-8") as out:
            r = subprocess.run(["debootstrap", "--variant=minbase", f"--cache-dir={cache}",
                                SUITE, str(root), MIRROR],
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               timeout=DEBOOTSTRAP_TIMEOUT)
        _phase("debootstrap", started)
        assert r.returncode == 0, (f"debootstrap exited {r.returncode}; the end of {log}:\n"
                                   + "\n".join(log.read_text().splitlines()[-30:]))
        yield root
    finally:
        _remove_root(root)


def _chroot(root, *argv, timeout=TOOL_TIMEOUT, env=None):
    full_env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
    full_env.update(env or {})
    return _run(["chroot", str(root), *argv], timeout=timeout, env=full_env)


def _ok(r, what):
    assert r.returncode == 0, f"{what} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def _state(path):
    st = path.stat()
    return path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_mtime_ns


def test_installs_runs_and_purges_in_a_fresh_debian(deb, fresh_root):
    root = fresh_root
    listing = _listing(deb)
    version = _field(deb, "Version")
    shutil.copy(deb, root / "tmp" / deb.name)

    # As a user would: the lists, then the .deb, which pulls its Depends
    # (and Recommends, as apt does by default).  man-db answers man -w.
    started = time.monotonic()
    _ok(_chroot(root, "apt-get", "update", timeout=APT_TIMEOUT), "apt-get update")
    _ok(_chroot(root, "apt-get", "install", "-y", f"/tmp/{deb.name}", "man-db",
                timeout=APT_TIMEOUT), f"apt-get install ./{deb.name}")
    _phase("apt-get install", started)
    installed = _ok(_chroot(root, "dpkg-query", "-W", "-f=${Status}", "sepayfs"), "dpkg-query")
    assert installed == "install ok installed", installed

    out = _ok(_chroot(root, "sepayfs", "--version"), "sepayfs --version")
    assert f"sepayfs version {version}" in out, out
    assert _ok(_chroot(root, "man", "-w", "sepayfs"), "man -w sepayfs").strip() == \
        "/usr/share/man/man1/sepayfs.1.gz"
    assert _ok(_chroot(root, "man", "-w", "sepayfs-login"), "man -w sepayfs-login").strip() == \
        "/usr/share/man/man1/sepayfs-login.1.gz"
    _ok(_chroot(root, "sepayfs-login", "--help"), "sepayfs-login --help")

    # The units where the package put them, found by name through systemd's
    # own search paths, with the programs they run and the page they name.
    # systemd-analyze verify needs no running systemd, but systemd itself.
    started = time.monotonic()
    _ok(_chroot(root, "apt-get", "install", "-y", "--no-install-recommends", "systemd",
                "procps", timeout=APT_TIMEOUT), "apt-get install systemd")
    r = _chroot(root, "systemd-analyze", "verify", "sepayfs@mnt-sepay.service")
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
        f"systemd-analyze verify sepayfs@mnt-sepay.service:\n{r.stdout}{r.stderr}"
    (root / "tmp" / "xdg").mkdir(mode=0o700)
    r = _chroot(root, "systemd-analyze", "--user", "verify", "sepayfs@sepay.service",
                env={"XDG_RUNTIME_DIR": "/tmp/xdg"})
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
        f"systemd-analyze --user verify sepayfs@sepay.service:\n{r.stdout}{r.stderr}"
    _phase("systemd-analyze verify", started)

    # What purge must leave alone, and the cache it must take.
    secrets = [root / "etc/sepayfs/credentials.json", root / "etc/sepayfs/token",
               root / "root/.config/sepayfs/credentials.json",
               root / "root/.config/sepayfs/token"]
    for path in secrets:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text('{"client_id": "c", "client_secret": "s", "refresh_token": "r"}\n'
                        if path.suffix == ".json" else "a-token\n")
        path.chmod(0o600)
    before = {path: _state(path) for path in secrets}
    user_cache = root / "root/.cache/sepayfs/entry"
    user_cache.parent.mkdir(parents=True)
    user_cache.write_text("cached\n")
    cache = root / "var/cache/sepayfs"
    (cache / "api-user").mkdir(mode=0o700, parents=True)
    (cache / "api-user" / "entry").write_text("cached\n")

    _ok(_chroot(root, "dpkg", "--purge", "sepayfs"), "dpkg --purge sepayfs")
    r = _chroot(root, "dpkg-query", "-W", "-f=${Status}", "sepayfs")
    assert r.returncode != 0 or "not-installed" in r.stdout, r.stdout

    # Every file and link the package listed is gone, and its own folders;
    # folders it shares with other packages (/usr/bin, ...) stay.
    left = []
    for path, (mode, _) in sorted(listing.items()):
        if mode.startswith("d") and "sepayfs" not in path:
            continue
        if os.path.lexists(root / path):
            left.append(path)
    assert not left, f"dpkg --purge left: {left}"
    assert not cache.exists(), "purge left /var/cache/sepayfs"
    after = {path: _state(path) for path in secrets}
    assert after == before, "purge touched a credentials or token file"
    assert user_cache.read_text() == "cached\n", "purge touched a user's cache"
