"""test_docs.py - the manual pages and the files in contrib/ stay usable and
keep up with the code.

- Every man page in docs/ renders without a warning, by mandoc's linter
  (when mandoc is installed) and by man-db's groff pipeline.
- Every option `sepayfs --help` lists has an entry under OPTIONS in
  docs/sepayfs.1, and the default the help gives appears in that entry;
  the signals and extended attributes it names have entries too.
- contrib/sepayfs@.service (as an instance), contrib/sepayfs.mount and
  contrib/sepayfs.automount pass `systemd-analyze verify`.
- The options used in contrib/ (fstab lines, the units) are documented.

Nothing here mounts anything.  A check is skipped only when the tool it
needs (mandoc, man, systemd-analyze) is not installed.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import SEPAYFS_BIN

pytestmark = pytest.mark.cli

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
CONTRIB = REPO / "contrib"
MAN_PAGE = DOCS / "sepayfs.1"
MAN_PAGES = [DOCS / "sepayfs.1", DOCS / "sepayfs-login.1"]

# What the unit files call; the test substitutes paths that exist here.
UNIT_SEPAYFS = "/usr/local/bin/sepayfs"


TOOL_TIMEOUT = 60


def _run(argv, env=None):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=env, timeout=TOOL_TIMEOUT)


def _man_env(**extra):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("LC_") or k in ("LANG", "LANGUAGE"):
            del env[k]
    # C.UTF-8 is built into glibc; a locale that is not installed would make
    # man itself complain on stderr.
    env.update(LC_ALL="C.UTF-8", MANWIDTH="80", MANPAGER="cat", PAGER="cat")
    env.pop("MAN_KEEP_FORMATTING", None)
    env.update(extra)
    return env


# ---- the pages render without warnings --------------------------------------

@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_passes_mandoc_lint(page):
    mandoc = shutil.which("mandoc")
    if not mandoc:
        pytest.skip("mandoc is not installed")
    assert page.is_file(), f"{page} is missing"
    r = _run([mandoc, "-T", "lint", "-W", "warning", str(page)])
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and not out, f"mandoc -T lint -W warning {page.name}:\n{out}"


@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_renders_with_man_db_without_warnings(page):
    man = shutil.which("man")
    if not man:
        pytest.skip("man is not installed")
    assert page.is_file(), f"{page} is missing"
    r = _run([man, "--warnings", "-l", str(page)], env=_man_env())
    assert r.returncode == 0, f"man -l {page.name} failed ({r.returncode}):\n{r.stderr}"
    assert not r.stderr.strip(), f"man --warnings -l {page.name}:\n{r.stderr}"
    assert len(r.stdout.splitlines()) > 10, f"man -l {page.name} rendered almost nothing"


# ---- reading docs/sepayfs.1 -------------------------------------------------

def _deroff(line):
    """A roff source line as the words it shows: no macro name, no quotes, no
    font or other escapes."""
    line = re.sub(r"^\.[A-Za-z]+\s*", "", line)
    line = line.replace("\\-", "-").replace("\\e", "\\")
    line = re.sub(r"\\f(\[[^]]*\]|.)", "", line)
    line = re.sub(r"\\[%&:c]", "", line)
    line = re.sub(r"\\\((..)", " ", line)
    return line.replace('"', "")


def _sections(source):
    """{name: [source lines]} of each .SH section."""
    sections, name = {}, None
    for line in source.splitlines():
        m = re.match(r'^\.SH\s+"?(.*?)"?\s*$', line)
        if m:
            name = m.group(1)
            sections[name] = []
        elif name is not None:
            sections[name].append(line)
    return sections


def _option_entries(lines):
    """[(tag, body)] of the .TP entries in a section, de-roffed.
    An entry runs from its tag to the next .TP, .SS or .SH (so an .IP
    continuation belongs to it)."""
    entries, tag, body, want_tag = [], None, [], False
    for line in lines:
        if want_tag:
            tag, body, want_tag = _deroff(line), [], False
            continue
        if re.match(r"^\.(TP|SS|SH)\b", line):
            if tag is not None:
                entries.append((tag, " ".join(body)))
            tag, body = None, []
            want_tag = line.startswith(".TP")
        elif tag is not None and not line.startswith('.\\"'):
            body.append(_deroff(line))
    if tag is not None:
        entries.append((tag, " ".join(body)))
    return entries


def _word_re(name):
    return re.compile(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])")


@pytest.fixture(scope="module")
def man_options():
    assert MAN_PAGE.is_file(), f"{MAN_PAGE} is missing"
    sections = _sections(MAN_PAGE.read_text(encoding="utf-8"))
    assert "OPTIONS" in sections, "docs/sepayfs.1 has no OPTIONS section"
    entries = _option_entries(sections["OPTIONS"])
    assert entries, "docs/sepayfs.1: no .TP entries under OPTIONS"
    return entries


def _entry_for(entries, name):
    """The body of the OPTIONS entry whose tag names the option, or None."""
    for tag, body in entries:
        if _word_re(name).search(tag):
            return body
    return None


# ---- sepayfs --help -----------------------------------------------------------

def _help_options():
    """{name: its help text} for each -o option in the sepayfs section of
    `sepayfs --help` (up to "FUSE options:"), continuation lines included."""
    assert os.access(SEPAYFS_BIN, os.X_OK), f"{SEPAYFS_BIN} is not built"
    r = _run([SEPAYFS_BIN, "--help"])
    assert r.returncode == 0, f"sepayfs --help exited {r.returncode}:\n{r.stderr}"
    lines = r.stdout.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == "sepayfs options:")
        end = next(i for i, l in enumerate(lines) if l.strip() == "FUSE options:")
    except StopIteration:
        pytest.fail("sepayfs --help has no 'sepayfs options:' ... 'FUSE options:' part:\n"
                    + r.stdout)
    options, current = {}, []
    for line in lines[start + 1:end]:
        names = re.findall(r"(?<![\w-])-o\s+([A-Za-z_][\w.-]*)", line)
        names = [n.rstrip(".") for n in names]
        # A list of names without -o: "_netdev, nofail, x-systemd.*: ...".
        bare = re.match(r"^\s*([\w.*-]+(?:,\s*[\w.*-]+)+):\s", line)
        if bare:
            names = [n.strip() for n in bare.group(1).split(",")]
        if bare or re.match(r"^\s*-o\s", line):
            current = names
            for n in names:
                options.setdefault(n, "")
        else:
            for n in names:  # an option named inside another's text
                options.setdefault(n, "")
        for n in current:
            options[n] += " " + line.strip()
    assert options, "found no -o options in the sepayfs part of sepayfs --help"
    return options


@pytest.fixture(scope="module")
def help_options():
    return _help_options()


def test_every_help_option_is_in_the_man_page(help_options, man_options):
    missing = sorted(n for n in help_options if _entry_for(man_options, n) is None)
    assert not missing, ("options in `sepayfs --help` without an entry under OPTIONS in "
                         f"docs/sepayfs.1: {', '.join(missing)}")


def test_help_defaults_match_the_man_page(help_options, man_options):
    """'(default X)' in the help: X appears in the option's man page entry.
    Checked when X is a value (a number, a URL or path, $VARIABLE, or one of
    the choices the help lists before it), not words such as 'yours'."""
    wrong = []
    for name, text in sorted(help_options.items()):
        m = re.search(r"\(default:?\s+([^\s),:;]+)", text)
        body = _entry_for(man_options, name)
        if not m or body is None:
            continue
        value = m.group(1).lstrip("$").rstrip(".")
        if not (re.search(r"[0-9/$]", m.group(1))
                or _word_re(value).search(text[:m.start()])):
            continue
        if not _word_re(value).search(body):
            wrong.append(f"{name}: help says default {m.group(1)!r}, the man page entry "
                         f"does not mention {value!r}")
    assert not wrong, "\n".join(wrong)


def test_signals_and_attributes_in_the_help_are_in_the_man_page():
    """Signals (SIGHUP, ...) and extended attributes (user.sepayfs.*) the help
    names each have an entry in their man page section."""
    assert os.access(SEPAYFS_BIN, os.X_OK), f"{SEPAYFS_BIN} is not built"
    r = _run([SEPAYFS_BIN, "--help"])
    sections = _sections(MAN_PAGE.read_text(encoding="utf-8"))
    tags = {}
    for section in ("SIGNALS", "EXTENDED ATTRIBUTES"):
        tags[section] = " ".join(tag for tag, _ in _option_entries(sections.get(section, [])))
    missing = [n for n in sorted(set(re.findall(r"\bSIG[A-Z0-9]+\b", r.stdout)))
               if not _word_re(n).search(tags["SIGNALS"])]
    missing += [n for n in sorted(set(re.findall(r"\buser\.sepayfs\.\w+", r.stdout)))
                if not _word_re(n).search(tags["EXTENDED ATTRIBUTES"])]
    assert not missing, ("named in `sepayfs --help` but without an entry in docs/sepayfs.1: "
                         + ", ".join(missing))


# ---- contrib/ ---------------------------------------------------------------

def _unit_settings(path):
    """[(key, value)] of a unit file, in order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        out.append((key.strip(), value.strip()))
    return out


def _option_names(option_list):
    """The names in a comma-separated option list: 'a=1,b' -> ['a', 'b']."""
    return [o.split("=", 1)[0] for o in option_list.split(",") if o]


def _fstab_entries():
    """The example lines of contrib/fstab.example (commented out there)."""
    entries = []
    for line in (CONTRIB / "fstab.example").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#\s*(sepayfs\s+\S+\s+fuse\.sepayfs\s.*)$", line)
        if m:
            entries.append(m.group(1).split())
    return entries


def test_fstab_example_lines_are_well_formed():
    entries = _fstab_entries()
    assert entries, "contrib/fstab.example holds no 'sepayfs MOUNTPOINT fuse.sepayfs' line"
    for fields in entries:
        assert len(fields) == 6, f"an fstab line has 6 fields: {' '.join(fields)}"
        assert fields[1].startswith("/"), fields
        assert fields[4:] == ["0", "0"], fields
        assert "_netdev" in _option_names(fields[3]), f"missing _netdev: {fields[3]}"


def test_options_used_in_contrib_are_documented(man_options):
    used = set()
    for fields in _fstab_entries():
        used.update(_option_names(fields[3]))
    for key, value in _unit_settings(CONTRIB / "sepayfs.mount"):
        if key == "Options":
            used.update(_option_names(value))
    for key, value in _unit_settings(CONTRIB / "sepayfs@.service"):
        if key == "ExecStart":
            for opts in re.findall(r"(?:^|\s)-o\s*(\S+)", value):
                used.update(_option_names(opts))
    undocumented = sorted(n for n in used
                          if _entry_for(man_options, n) is None
                          and not (n.startswith("x-systemd.")
                                   and _entry_for(man_options, "x-systemd.") is not None))
    assert not undocumented, ("options used in contrib/ but not under OPTIONS in "
                              f"docs/sepayfs.1: {', '.join(undocumented)}")


def test_service_template_runs_the_daemon_in_the_foreground():
    settings = dict(_unit_settings(CONTRIB / "sepayfs@.service"))
    # Started once the daemon says READY=1 (mounted): what comes after it
    # (smbd, nfs-server, a backup) finds the tree there.
    assert settings.get("Type") == "notify"
    start = settings.get("ExecStart", "").split()
    assert start and start[0] == UNIT_SEPAYFS, start
    # Type=notify takes READY=1 from the process systemd started (the
    # default NotifyAccess=main): it must not fork away.
    assert "-f" in start, start
    assert start[-1] == "%f", "the mount point is the unescaped instance name (%f)"
    assert settings.get("ExecStop", "").split() == ["/bin/fusermount3", "-u", "%f"]
    for key, value in settings.items():
        if key.startswith("Exec"):
            exe = value.lstrip("-@:+!")
            assert exe.startswith("/"), f"{key}= needs an absolute path: {value}"


def _verify(units, unit_dir):
    """Runs systemd-analyze verify on units in unit_dir; its output."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    argv = [analyze, "verify"]
    env = dict(os.environ)
    if shutil.which("man"):
        # Documentation=man:sepayfs(1) must resolve: to the page in docs/.
        man1 = unit_dir / "man" / "man1"
        man1.mkdir(parents=True)
        shutil.copy(MAN_PAGE, man1 / "sepayfs.1")
        env = _man_env(MANPATH=str(unit_dir / "man"))
    else:
        argv.append("--man=no")
    r = _run(argv + [str(unit_dir / u) for u in units], env=env)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and not out, f"systemd-analyze verify {' '.join(units)}:\n{out}"


def test_service_template_verifies(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    text = (CONTRIB / "sepayfs@.service").read_text(encoding="utf-8")
    assert UNIT_SEPAYFS in text
    # verify checks that ExecStart's program exists: use the one just built.
    text = text.replace(UNIT_SEPAYFS, str(Path(SEPAYFS_BIN).resolve()))
    units = tmp_path / "units"
    units.mkdir()
    (units / "sepayfs@.service").write_text(text, encoding="utf-8")
    _verify(["sepayfs@mnt-sepay.service"], units)


def test_mount_and_automount_units_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    units = tmp_path / "units"
    units.mkdir()
    # A mount unit must be named after its Where=: /mnt/sepay -> mnt-sepay.
    for suffix in ("mount", "automount"):
        src = CONTRIB / f"sepayfs.{suffix}"
        settings = dict(_unit_settings(src))
        assert settings.get("Where") == "/mnt/sepay", src
        shutil.copy(src, units / f"mnt-sepay.{suffix}")
    mount = dict(_unit_settings(CONTRIB / "sepayfs.mount"))
    assert mount.get("Type") == "fuse.sepayfs"
    assert mount.get("What") == "sepayfs"
    _verify(["mnt-sepay.mount", "mnt-sepay.automount"], units)
