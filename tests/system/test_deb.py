"""System tests: the Debian package -- `make deb`, lintian, its contents,
and an install, remove and purge on a fresh Debian 12 root as a Jibri
host would do them -- and the man pages kept in step with the code (the
keys of src/base/config.c, the commands of src/main.c)."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BUILD

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FRESH_BOX = os.path.join(os.path.dirname(ROOT), "shared", "tools",
                         "fresh-box")
# a recording without audio (the package host has no ffmpeg to make one)
MEDIA = os.path.join(ROOT, "fixtures", "noaudio.mp4")


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def untroff(s):
    """Text of troff lines: font escapes dropped, \\- a hyphen, the font
    macros' words (.B, .BR, .IB, ...) as they print."""
    out = []
    for line in s.split("\n"):
        m = re.match(r"^\.([BIR]{1,2})(?: (.*))?$", line)
        if m:
            words = [a if a else b for a, b in
                     re.findall(r'"([^"]*)"|(\S+)', m.group(2) or "")]
            line = " ".join(words) if len(m.group(1)) == 1 else "".join(words)
        elif line.startswith("."):
            continue
        out.append(line)
    s = re.sub(r"\\f[BIRP]", "", " ".join(out))
    return s.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def section(page, name):
    """The lines of one .SH section of a man page."""
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH |\Z)" % re.escape(name), page,
                  re.S | re.M)
    assert m, "no .SH %s" % name
    return m.group(1).splitlines()


def tagged(lines):
    """The tag line of each .TP entry, with the lines of its body."""
    out, i = [], 0
    while i < len(lines):
        if lines[i] == ".TP" and i + 1 < len(lines):
            body, j = [], i + 2
            while j < len(lines) and lines[j] not in (".TP", ".PP") and \
                    not lines[j].startswith(".SS"):
                body.append(lines[j])
                j += 1
            out.append((lines[i + 1], body))
            i = j
        else:
            i += 1
    return out


def config_keys():
    """src/base/config.c's keys[]: name -> default (None for NULL)."""
    text = read("src/base/config.c")
    m = re.search(r"keys\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert m, "no keys[] table in src/base/config.c"
    return {k: (None if d == "NULL" else d.strip('"')) for k, d in
            re.findall(r'\{\s*"([A-Z0-9_]+)",\s*(NULL|"[^"]*")', m.group(1))}


def main_commands():
    """The names of src/main.c's command table."""
    text = read("src/main.c")
    names = re.findall(r'\{\s*"([a-z-]+)",\s*\w+_main\b', text)
    assert names, "no command table in src/main.c"
    return names


class ManPages(unittest.TestCase):
    """The pages say what the code has: no more, no less."""

    def test_env_page_has_every_key_and_its_default(self):
        keys = config_keys()
        page = read("man/jibri-pipeline.env.5")
        entries = {}
        for tag, body in tagged(section(page, "KEYS")):
            m = re.fullmatch(r"\.B ([A-Z0-9_]+)", tag)
            self.assertTrue(m, "a KEYS entry that is not `.B KEY': %r" % tag)
            entries[m.group(1)] = untroff("\n".join(body))
        self.assertEqual(sorted(set(keys) - set(entries)), [],
                         "keys of src/base/config.c missing in "
                         "man/jibri-pipeline.env.5")
        self.assertEqual(sorted(set(entries) - set(keys)), [],
                         "keys in man/jibri-pipeline.env.5 that "
                         "src/base/config.c does not have")
        for k, default in keys.items():
            with self.subTest(key=k):
                self.assertTrue(entries[k].startswith("Default: "),
                                "%s: the entry starts with its default" % k)
                if default is not None:
                    self.assertTrue(
                        entries[k].startswith("Default: %s." % default),
                        "%s: config.c's default is %r, the page says %r"
                        % (k, default, entries[k][:60]))

    def test_env_page_names_the_file_form_of_every_secret(self):
        text = read("src/base/config.c")
        secrets = re.findall(r'\{\s*"([A-Z0-9_]+)",\s*(?:NULL|"[^"]*"),'
                             r'\s*true\s*\}', text)
        self.assertTrue(secrets)
        page = untroff("\n".join(section(read("man/jibri-pipeline.env.5"),
                                          "DESCRIPTION")))
        m = re.search(r"Each of (.*?) may be given as NAME_FILE=PATH", page)
        self.assertTrue(m, "no `Each of ... may be given as NAME_FILE=PATH'")
        listed = set(re.findall(r"[A-Z][A-Z0-9_]+", m.group(1)))
        self.assertEqual(listed, set(secrets))

    def test_pipeline_page_has_every_command(self):
        commands = main_commands()
        page = read("man/jibri-pipeline.8")
        entries = []
        for tag, _ in tagged(section(page, "COMMANDS")):
            m = re.match(r"\\fB([a-z-]+)\\fR", tag)
            self.assertTrue(m, "a COMMANDS entry that does not start with "
                            "\\fBcommand\\fR: %r" % tag)
            entries.append(m.group(1))
        self.assertEqual(sorted(set(commands) - set(entries)), [],
                         "commands of src/main.c missing in "
                         "man/jibri-pipeline.8")
        self.assertEqual(sorted(set(entries) - set(commands)), [],
                         "commands in man/jibri-pipeline.8 that src/main.c "
                         "does not have")

    def test_unit_documentation_names_pages_that_exist(self):
        unit = read("systemd/jibri-pipeline.service")
        docs = re.findall(r"^Documentation=(.*)$", unit, re.M)
        self.assertTrue(docs)
        for ref in " ".join(docs).split():
            with self.subTest(ref=ref):
                m = re.fullmatch(r"man:([\w.-]+)\((\d)\)", ref)
                self.assertTrue(m, "%s: not a man page of this tree" % ref)
                self.assertTrue(os.path.exists(os.path.join(
                    ROOT, "man", "%s.%s" % m.groups())), ref)

    def test_lintian_overrides_say_why(self):
        for rel in ("debian/source/lintian-overrides",
                    "debian/jibri-pipeline.lintian-overrides"):
            if not os.path.exists(os.path.join(ROOT, rel)):
                continue
            prev = ""
            for n, line in enumerate(read(rel).splitlines(), 1):
                if line.strip() and not line.startswith("#"):
                    self.assertTrue(prev.startswith("#"),
                                    "%s:%d: an override without a comment "
                                    "line above it" % (rel, n))
                prev = line


# What a Jibri host does with the package, in a fresh Debian 12 root. Each
# finding is one "@@ name: value" line (fresh-box prints the end of the
# output, so the rest goes to files).
INSTALL_SCRIPT = r"""
set -u
export DEBIAN_FRONTEND=noninteractive
say() { echo "@@ $*"; }
quiet() { log=$1; shift; "$@" >"/tmp/$log.log" 2>&1; rc=$?
	[ $rc = 0 ] || { say "$log failed: $rc"; tail -n 25 "/tmp/$log.log"; }
	return $rc; }
where() { if [ -e "$1" ]; then echo present; else echo gone; fi; }

quiet update apt-get update -qq || exit 1
quiet install apt-get install -y -q --no-install-recommends /root/DEB || exit 1
say "install: ok"
grep -E '^(E:|W:|dpkg: )' /tmp/install.log | sed 's/^/@@ install-problem: /'
say "id: $(id jibri-pipeline)"
say "env: $(stat -c '%U:%G %a' /etc/jibri-pipeline/env)"
say "state: $(stat -c '%U:%G %a' /var/lib/jibri-pipeline)"
say "incoming: $(stat -c '%U:%G %a' /var/lib/jibri-pipeline/incoming)"
say "version: $(jibri-pipeline --version)"
say "enabled: $(systemctl is-enabled jibri-pipeline.service 2>&1)"
say "execstart: $(grep '^ExecStart=' /lib/systemd/system/jibri-pipeline.service)"
say "man: $(cd /usr/share/man && ls man5/jibri* man8/jibri* | tr '\n' ' ')"
jibri-pipeline check >/tmp/check.log 2>&1
say "check-example: $?"
sed 's/^/@@ check-example-says: /' /tmp/check.log | head -n 4

# configured: the webhook secret, Jibri's recordings directory
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' |
	install -m 640 -g jibri-pipeline /dev/stdin /etc/jibri-pipeline/webhook-secret
useradd --system --no-create-home -g jibri jibri
install -d -o jibri -g jibri -m 2775 /var/recordings/session-1
install -o jibri -g jibri -m 640 /root/MEDIA /var/recordings/session-1/room_2025-01-15-10-30-00.mp4
jibri-pipeline check >/tmp/check.log 2>&1
say "check-configured: $?"
sed 's/^/@@ check-configured-says: /' /tmp/check.log | head -n 4
runuser -u jibri -- jibri-finalize /var/recordings/session-1 >/tmp/finalize.log 2>&1
say "finalize-as-jibri: $?"
say "requests: $(ls /var/lib/jibri-pipeline/incoming | wc -l)"

# the daemon as the unit runs it: its own user, Jibri's group, its own
# group added (no systemd here: runuser does what the unit says); no
# receiver for the webhook on this host
echo WEBHOOK_URL=none >>/etc/jibri-pipeline/env
runuser -u jibri-pipeline -g jibri -G jibri-pipeline -- \
	jibri-pipeline run >/tmp/daemon.log 2>&1 &
daemon=$!
for i in $(seq 1 100); do
	grep -q '"state": "done"' /var/lib/jibri-pipeline/jobs/*.json 2>/dev/null && break
	sleep 0.2
done
kill $daemon; wait $daemon
say "daemon-exit: $?"
say "job: $(grep -ho '"state": "[a-z]*"' /var/lib/jibri-pipeline/jobs/*.json)"
say "stored: $(cd /var/lib/jibri-pipeline/storage 2>/dev/null && find . -type f -printf '%P %u\n' | sort | tr '\n' ';')"
grep -E 'level=(warn|error)' /tmp/daemon.log | head -n 5 | sed 's/^/@@ daemon-says: /'
say "security: $(systemd-analyze security --offline=yes /lib/systemd/system/jibri-pipeline.service 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"

quiet remove apt-get remove -y -q jibri-pipeline || exit 1
say "removed: env $(where /etc/jibri-pipeline/env), state $(where /var/lib/jibri-pipeline), program $(where /usr/bin/jibri-pipeline), unit $(where /lib/systemd/system/jibri-pipeline.service)"
quiet purge apt-get purge -y -q jibri-pipeline || exit 1
say "purged: env $(where /etc/jibri-pipeline/env), secret $(where /etc/jibri-pipeline/webhook-secret), state $(where /var/lib/jibri-pipeline), user $(id -u jibri-pipeline >/dev/null 2>&1 && echo present || echo gone)"
grep '^jibri-pipeline: kept' /tmp/purge.log | sed 's/^/@@ purge-says: /'
say "done: ok"
"""


class DebPackage(unittest.TestCase):
    """`make deb` once, then what is in the package and what installing,
    removing and purging it does on a fresh Debian 12 root."""

    @classmethod
    def setUpClass(cls):
        cls.build = os.path.join(BUILD, "test-deb")
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        p = subprocess.run(["make", "--no-print-directory", "deb",
                            "BUILD=" + cls.build], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=1200)
        cls.make_out = p.stdout + p.stderr
        if p.returncode != 0:
            raise AssertionError("make deb failed (exit %d):\n%s" % (
                p.returncode, cls.make_out[-6000:]))
        out = os.path.join(cls.build, "deb-out")
        debs = [f for f in os.listdir(out)
                if re.fullmatch(r"jibri-pipeline_[^_]+_[^_]+\.deb", f)]
        if len(debs) != 1:
            raise AssertionError("want one jibri-pipeline_*.deb in %s: %s"
                                 % (out, os.listdir(out)))
        cls.deb = os.path.join(out, debs[0])
        cls.changes = [os.path.join(out, f) for f in os.listdir(out)
                       if f.endswith(".changes")]
        # fresh-box runs the suite in a chroot, where another fresh-box
        # cannot make its root (no mount propagation there): the install
        # checks need the machine itself, as CI has it
        cls.box = None
        if socket.gethostname() == "fresh-box":
            cls.box_skip = ("inside a fresh-box root: a fresh Debian root "
                            "cannot be made from a chroot")
        else:
            cls.box = cls.fresh_install()

    @classmethod
    def fresh_install(cls):
        """Run INSTALL_SCRIPT in a fresh Debian 12 root: {name: [values]}."""
        if not os.path.exists(FRESH_BOX):
            raise AssertionError(
                "%s is missing: this test installs the package on a fresh "
                "Debian 12 root with it (shared/ beside the project)"
                % FRESH_BOX)
        if os.geteuid() != 0:
            raise AssertionError(
                "fresh-box needs root (debootstrap, chroot): run the tests "
                "as root, as CI does, to install the package on a fresh "
                "Debian 12 root")
        tmp = tempfile.mkdtemp(prefix="jp-deb-")
        try:
            script = os.path.join(tmp, "deb-install-test.sh")
            with open(script, "w") as f:
                f.write(INSTALL_SCRIPT.replace(
                    "/root/DEB", "/root/" + os.path.basename(cls.deb))
                    .replace("/root/MEDIA", "/root/" + os.path.basename(
                        MEDIA)))
            p = subprocess.run(
                ["python3", FRESH_BOX, "--cmd",
                 "bash /root/deb-install-test.sh", "--copy", script,
                 "--copy", cls.deb, "--copy", MEDIA, "--timeout", "900"],
                cwd=ROOT, capture_output=True, text=True, timeout=2400)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        cls.box_out = p.stdout + p.stderr
        found = {}
        for line in cls.box_out.splitlines():
            m = re.match(r"^@@ ([\w-]+): ?(.*)$", line)
            if m:
                found.setdefault(m.group(1), []).append(m.group(2))
        if p.returncode != 0 or "done" not in found:
            raise AssertionError("the install on a fresh Debian 12 root "
                                 "failed (fresh-box exit %d):\n%s" % (
                                     p.returncode, cls.box_out[-6000:]))
        return found

    # the tests that read what the fresh install found
    ON_THE_BOX = ("test_fresh_install", "test_check_fails_until_configured",
                  "test_finalize_as_jibri", "test_daemon_as_its_user",
                  "test_unit_sandbox", "test_remove_and_purge")

    def setUp(self):
        if self.box is None and self._testMethodName in self.ON_THE_BOX:
            self.skipTest(self.box_skip)

    def one(self, name):
        self.assertIn(name, self.box, self.box_out[-4000:])
        return self.box[name][0]

    def dpkg_deb(self, *args):
        return subprocess.run(["dpkg-deb"] + list(args) + [self.deb],
                              capture_output=True, text=True,
                              check=True).stdout

    def test_lintian_no_errors_or_warnings(self):
        self.assertIn("lintian: no errors or warnings", self.make_out)
        p = subprocess.run(["lintian"] + self.changes, capture_output=True,
                           text=True, timeout=600)
        tags = [l for l in p.stdout.splitlines() if re.match(r"^[EW]: ", l)]
        self.assertEqual(tags, [], p.stdout)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_files(self):
        listing = self.dpkg_deb("-c")
        files = {}
        for line in listing.splitlines():
            f = line.split()
            files[f[-1].lstrip(".")] = (f[0], f[1])
        for path in ("/usr/bin/jibri-pipeline", "/usr/bin/jibri-finalize",
                     "/lib/systemd/system/jibri-pipeline.service",
                     "/usr/lib/sysusers.d/jibri-pipeline.conf",
                     "/usr/lib/tmpfiles.d/jibri-pipeline.conf",
                     "/etc/jibri-pipeline/env",
                     "/usr/share/man/man8/jibri-pipeline.8.gz",
                     "/usr/share/man/man8/jibri-finalize.8.gz",
                     "/usr/share/man/man5/jibri-pipeline.env.5.gz",
                     "/usr/share/doc/jibri-pipeline/copyright"):
            with self.subTest(path=path):
                self.assertIn(path, files, listing)
        self.assertEqual(files["/usr/bin/jibri-pipeline"][0], "-rwxr-xr-x")
        # never world-readable; the postinst gives it its group
        self.assertEqual(files["/etc/jibri-pipeline/env"],
                         ("-rw-r-----", "root/root"))
        self.assertFalse([p for p in files if p.startswith("/usr/local")])

    def test_control(self):
        p = subprocess.run(
            "dpkg-deb --ctrl-tarfile '%s' | tar -xOf - ./conffiles" %
            self.deb, shell=True, capture_output=True, text=True)
        self.assertEqual(p.stdout.split(), ["/etc/jibri-pipeline/env"])
        depends = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends"],
                                 capture_output=True, text=True,
                                 check=True).stdout
        names = {d.split()[0] for d in re.split(r"[,|]", depends)}
        # the libav* the program dlopen()s, which dh_shlibdeps cannot see
        for lib in ("libavformat", "libavcodec", "libavutil"):
            major = subprocess.run(["pkg-config", "--modversion", lib],
                                   capture_output=True, text=True,
                                   check=True).stdout.split(".")[0]
            self.assertIn("%s%s" % (lib, major), names, depends)
        for lib in ("libcurl4", "libjansson4", "libpq5", "libmicrohttpd12",
                    "libjwt0", "libsystemd0", "libssl3"):
            self.assertIn(lib, names, depends)
        self.assertIn("systemd", names)          # systemd-sysusers
        self.assertNotIn("ffmpeg", depends)

    def test_unit_in_package(self):
        p = subprocess.run(
            "dpkg-deb --fsys-tarfile '%s' | tar -xOf - "
            "./lib/systemd/system/jibri-pipeline.service" % self.deb,
            shell=True, capture_output=True, text=True, check=True)
        self.assertIn("\nExecStart=/usr/bin/jibri-pipeline run\n", p.stdout)
        self.assertNotIn("/usr/local", p.stdout)
        listing = self.dpkg_deb("-c")
        for name, sect in re.findall(r"man:([\w.-]+)\((\d)\)", p.stdout):
            self.assertIn("/usr/share/man/man%s/%s.%s.gz" % (sect, name, sect),
                          listing)

    def test_fresh_install(self):
        self.assertNotIn("install-problem", self.box, self.box_out[-4000:])
        ident = self.one("id")
        self.assertRegex(ident, r"^uid=\d+\(jibri-pipeline\) "
                         r"gid=\d+\(jibri-pipeline\) groups=.*\(jibri\)")
        self.assertEqual(self.one("env"), "root:jibri-pipeline 640")
        self.assertEqual(self.one("state"), "jibri-pipeline:jibri 750")
        self.assertEqual(self.one("incoming"), "jibri-pipeline:jibri 2770")
        version = self.one("version")
        self.assertRegex(version, r"^jibri-pipeline \d+\.\d+")
        self.assertIn(version.split()[1], os.path.basename(self.deb))
        self.assertEqual(self.one("enabled"), "disabled")
        self.assertEqual(self.one("execstart"),
                         "ExecStart=/usr/bin/jibri-pipeline run")
        self.assertEqual(sorted(self.one("man").split()), [
            "man5/jibri-pipeline.env.5.gz", "man8/jibri-finalize.8.gz",
            "man8/jibri-pipeline.8.gz"])

    def test_check_fails_until_configured(self):
        self.assertEqual(self.one("check-example"), "1")
        said = "\n".join(self.box.get("check-example-says", []))
        self.assertIn("JITSI_WEBHOOK_SECRET", said)
        self.assertEqual(self.one("check-configured"), "0",
                         self.box.get("check-configured-says"))
        said = self.box["check-configured-says"]
        self.assertEqual(said[-1], "configuration OK", said)
        self.assertFalse([l for l in said if l.startswith("error:")], said)

    def test_finalize_as_jibri(self):
        self.assertEqual(self.one("finalize-as-jibri"), "0")
        self.assertEqual(self.one("requests"), "1")

    def test_daemon_as_its_user(self):
        """The installed daemon, run as the unit runs it, takes the
        recording jibri-finalize (as jibri) handed over and stores it; the
        stored files are its user's."""
        self.assertEqual(self.one("job"), '"state": "done"',
                         self.box.get("daemon-says"))
        stored = [x for x in self.one("stored").split(";") if x]
        self.assertEqual(sorted(f.split()[0].rsplit("/", 1)[1]
                                for f in stored),
                         ["manifest.json", "recording.mp4"], stored)
        for f in stored:
            self.assertTrue(f.endswith(" jibri-pipeline"), stored)

    def test_unit_sandbox(self):
        """systemd-analyze security --offline=yes of the installed unit:
        1.5 at most (OK)."""
        self.assertLessEqual(float(self.one("security")), 1.5)

    def test_remove_and_purge(self):
        self.assertEqual(self.one("removed"), "env present, state present, "
                         "program gone, unit gone")
        # the admin's secret file stays; so do the recordings' directory
        # and the user
        self.assertEqual(self.one("purged"), "env gone, secret present, "
                         "state present, user present")
        self.assertIn("/var/lib/jibri-pipeline", self.one("purge-says"))


if __name__ == "__main__":
    unittest.main()
