"""System tests: configuration that must not lose data or leak secrets --
KEEP_LOCAL without mp4, the installed env file the service user can read,
env-file text wiped, URL passwords redacted, status escaping hostile room
names, durable file:// directories, and NAME_FILE secrets (symlinks
followed, FIFOs refused at once)."""
import grp
import hashlib
import hmac
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
import unittest

from harness import BUILD, PIPELINE, ROOT, PipelineCase, SECRET
from receiver import free_port

SERVICE_USER = "jibri-pipeline"


def sanitized(binary=PIPELINE):
    """binary is built with a sanitizer (whatever BUILD is named)."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return "asan" in BUILD


def plain_pipeline():
    """A jibri-pipeline without a sanitizer: this build's, or under a
    sanitizer build the plain one `make test` built next to it (build/);
    None when there is none."""
    if not sanitized():
        return PIPELINE
    plain = os.path.join(ROOT, "build", "jibri-pipeline")
    return plain if os.path.exists(plain) and not sanitized(plain) else None


def _exists(kind, name):
    try:
        (pwd.getpwnam if kind == "user" else grp.getgrnam)(name)
        return True
    except KeyError:
        return False


class ServiceUsers:
    """Remembers which of the users and groups of systemd/sysusers.conf
    existed, and removes afterwards those a test created."""

    NAMES = (("user", SERVICE_USER), ("group", SERVICE_USER),
             ("group", "jibri"))

    def __init__(self):
        self.before = {n: _exists(*n) for n in self.NAMES}

    def ensure_user(self):
        if not _exists("user", SERVICE_USER):
            subprocess.run(["useradd", "--system", "--user-group",
                            "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", SERVICE_USER],
                           check=True, capture_output=True)

    def restore(self):
        if not self.before[("user", SERVICE_USER)] and \
                _exists("user", SERVICE_USER):
            subprocess.run(["userdel", SERVICE_USER], capture_output=True)
        for name in (SERVICE_USER, "jibri"):
            if not self.before[("group", name)] and _exists("group", name):
                subprocess.run(["groupdel", name], capture_output=True)


class ConfigSafety(PipelineCase):

    def errors(self, p):
        return [l for l in p.stderr.splitlines() if l.startswith("error: ")]

    def users(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (useradd, chown)")
        u = ServiceUsers()
        self.addCleanup(u.restore)
        return u

    # ---- A: KEEP_LOCAL without mp4 --------------------------------------
    def test_keep_local_without_mp4_refused(self):
        for keep in ("delete", "7d"):
            want = ("error: KEEP_LOCAL=%s would delete the only copy of the "
                    "video: OUTPUTS=`audio,manifest' has no mp4 (add mp4 to "
                    "OUTPUTS or set KEEP_LOCAL=keep)" % keep)
            p = self.cli("check", OUTPUTS="audio,manifest", KEEP_LOCAL=keep)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertNotIn("configuration OK", p.stdout)
            self.assertIn(want, p.stderr.splitlines())
            p = self.cli("run", OUTPUTS="audio,manifest", KEEP_LOCAL=keep,
                         timeout=20)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(want, p.stderr.splitlines())
            self.assertIn("not started", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.state,
                                                         "lock")))
        # the video stored, or the source kept: fine
        for env in ({"OUTPUTS": "mp4,manifest", "KEEP_LOCAL": "delete"},
                    {"OUTPUTS": "audio,manifest", "KEEP_LOCAL": "keep"}):
            p = self.cli("check", **env)
            self.assertEqual(p.returncode, 0, (env, p.stderr))

    # ---- B: the service user reads the env file -------------------------
    def make_install(self, destdir):
        """make install DESTDIR=destdir with the binaries of BUILD (-o all:
        nothing rebuilt); the CompletedProcess."""
        return subprocess.run(["make", "-s", "-C", ROOT, "-o", "all",
                               "BUILD=" + BUILD, "DESTDIR=" + destdir,
                               "install"], capture_output=True, text=True,
                              timeout=120)

    def assert_installed(self, destdir, group):
        etc = os.path.join(destdir, "etc", "jibri-pipeline")
        env = os.path.join(etc, "env")
        st = os.stat(env)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(st.st_uid, 0)
        self.assertEqual(grp.getgrgid(st.st_gid).gr_name, group)
        self.assertEqual(stat.S_IMODE(os.stat(etc).st_mode), 0o755)
        for b in ("jibri-pipeline", "jibri-finalize"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
                destdir, "usr", "local", "bin", b)).st_mode), 0o755)
        units = [os.path.join(d, f) for d, _, fs in os.walk(destdir)
                 for f in fs if f == "jibri-pipeline.service"]
        self.assertEqual(len(units), 1, units)
        with open(units[0]) as f:
            unit = f.read()
        self.assertIn("User=jibri-pipeline", unit)
        self.assertRegex(unit, r"(?m)^SupplementaryGroups=.*jibri-pipeline")
        with open(os.path.join(destdir, "usr", "lib", "sysusers.d",
                               "jibri-pipeline.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^u jibri-pipeline ")
        return env

    def test_install_destdir_env_group(self):
        """With DESTDIR: root:jibri-pipeline 0640 when the group exists,
        else root:root and a line saying what to run."""
        users = self.users()
        dest = os.path.join(self.tmp, "dest-nogroup")
        if not _exists("group", SERVICE_USER):
            p = self.make_install(dest)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assert_installed(dest, "root")
            self.assertIn("run: chgrp jibri-pipeline /etc/jibri-pipeline/env",
                          p.stdout)
        users.ensure_user()
        dest = os.path.join(self.tmp, "dest")
        p = self.make_install(dest)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        env = self.assert_installed(dest, SERVICE_USER)
        # the service's credentials (initgroups(user, Group=jibri's gid)
        # plus SupplementaryGroups=jibri-pipeline) can read it
        gid = grp.getgrnam(SERVICE_USER).gr_gid
        self.assertIn(gid, os.getgrouplist(SERVICE_USER, gid))
        # a second install leaves the operator's file alone
        with open(env, "a") as f:
            f.write("WORKERS=3\n")
        p = self.make_install(dest)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("exists: left as it is", p.stdout)
        with open(env) as f:
            self.assertIn("WORKERS=3", f.read())

    def test_install_real_root_creates_user(self):
        """DESTDIR empty: systemd-sysusers creates the users first, then
        the env file is root:jibri-pipeline 0640 (every directory of the
        install below tmp, so only the users touch the real root)."""
        self.users()
        if shutil.which("systemd-sysusers") is None:
            self.skipTest("no systemd-sysusers")
        if _exists("user", SERVICE_USER):
            self.skipTest("user jibri-pipeline exists: would not be created")
        top = os.path.join(self.tmp, "root")
        dirs = dict(PREFIX=top + "/usr/local", SYSCONFDIR=top + "/etc",
                    SYSTEMDUNITDIR=top + "/lib/systemd/system",
                    SYSUSERSDIR=top + "/usr/lib/sysusers.d",
                    TMPFILESDIR=top + "/usr/lib/tmpfiles.d")
        p = subprocess.run(["make", "-s", "-C", ROOT, "-o", "all",
                            "BUILD=" + BUILD, "DESTDIR="] +
                           ["%s=%s" % kv for kv in dirs.items()] +
                           ["install"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("systemd-sysusers", p.stdout)
        self.assertTrue(_exists("user", SERVICE_USER))
        self.assertIn(SERVICE_USER, grp.getgrnam("jibri").gr_mem)
        self.assert_installed(top, SERVICE_USER)

    def test_check_service_user_cannot_read(self):
        """A root:root 0640 env file: check names the file, owner, mode
        and the chgrp that fixes it, and exits 1; fixed, it passes."""
        self.users().ensure_user()
        conf = os.path.join(self.tmp, "etc")
        os.makedirs(conf)
        os.chmod(self.tmp, 0o755)
        env_file = os.path.join(conf, "env")
        secret = os.path.join(conf, "webhook-secret")
        with open(env_file, "w") as f:
            f.write("JITSI_WEBHOOK_SECRET_FILE=%s\n" % secret)
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        for path in (env_file, secret):
            os.chown(path, 0, 0)
            os.chmod(path, 0o640)
        env = self.environ(JIBRI_PIPELINE_CONFIG=env_file,
                           JITSI_WEBHOOK_SECRET=None)
        p = self.cli("check", "--service-user", SERVICE_USER, env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertNotIn("configuration OK", p.stdout)
        self.assertIn("error: %s: the service user jibri-pipeline cannot "
                      "read it (owner root:root mode 0640): chgrp "
                      "jibri-pipeline %s" % (env_file, env_file),
                      p.stderr.splitlines())
        self.assertIn("error: JITSI_WEBHOOK_SECRET_FILE: `%s': the service "
                      "user jibri-pipeline cannot read it (owner root:root "
                      "mode 0640): chgrp jibri-pipeline %s" % (secret, secret),
                      p.stderr.splitlines())
        # a directory on the way without x for it
        gid = grp.getgrnam(SERVICE_USER).gr_gid
        for path in (env_file, secret):
            os.chown(path, 0, gid)
        os.chmod(conf, 0o700)
        p = self.cli("check", "--service-user", SERVICE_USER, env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("error: %s: the service user jibri-pipeline cannot "
                      "reach it: directory %s (owner root:root mode 0700) is "
                      "not searchable for it: chgrp jibri-pipeline %s && "
                      "chmod g+x %s" % (env_file, conf, conf, conf),
                      p.stderr.splitlines())
        os.chmod(conf, 0o755)
        p = self.cli("check", "--service-user", SERVICE_USER, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "configuration OK")
        self.assertNotIn("service user", p.stderr)

    def test_check_service_user_unknown(self):
        """A file other than the default one is judged only when asked;
        an unknown user named on purpose is an error."""
        os.chmod(self.config_file, 0o600)
        p = self.cli("check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("service user", p.stderr)
        p = self.cli("check", "--service-user", "no-such-user-h9")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("error: --service-user: `no-such-user-h9' is no user "
                      "on this host", p.stderr.splitlines())

    # ---- C: the env file's text is wiped, every line --------------------
    def test_env_file_text_wiped(self):
        """An LD_PRELOAD free() that looks for the secret in every block
        freed: the env file's text must be wiped before it is, not only
        its first line."""
        # the sanitizer runtime owns free(): under a sanitizer build, look
        # at the plain build of the same tree
        binary = plain_pipeline()
        if binary is None:
            self.skipTest("the sanitizer runtime owns free(), and there is "
                          "no plain build (make) next to this one")
        marker = "wipe-marker-5e5e5e-secret"
        shim_c = os.path.join(self.tmp, "shim.c")
        shim = os.path.join(self.tmp, "shim.so")
        hits = os.path.join(self.tmp, "hits")
        with open(shim_c, "w") as f:
            f.write(r'''
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>
static void (*real_free)(void *);
void free(void *p) {
	static const char m[] = "%s";
	if (real_free == NULL)
		real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	if (p != NULL && memmem(p, malloc_usable_size(p), m, sizeof(m) - 1)) {
		int fd = open("%s", O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) { (void)write(fd, "hit\n", 4); close(fd); }
	}
	real_free(p);
}
''' % (marker, hits))
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", shim, shim_c,
                        "-ldl"], check=True)
        with open(self.config_file, "w") as f:
            f.write("# first line\nWORKERS=2\nJITSI_WEBHOOK_SECRET=%s\n"
                    "LOG_LEVEL=info\n" % marker)
        body = os.path.join(self.tmp, "body")
        with open(body, "w") as f:
            f.write("{}")
        env = self.environ(JITSI_WEBHOOK_SECRET=None, LD_PRELOAD=shim)
        p = subprocess.run([binary, "sign", body], capture_output=True,
                           text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), hmac.new(
            marker.encode(), b"{}", hashlib.sha256).hexdigest())
        self.assertFalse(os.path.exists(hits),
                         "the secret was freed without being wiped")

    # ---- D: URL passwords redacted --------------------------------------
    def test_webhook_password_redacted(self):
        password = "pa55word-h9"
        url = "http://user:%s@127.0.0.1:%d/x" % (password, free_port())
        self.settings["WEBHOOK_URL"] = url
        self.start_daemon()
        s = self.jibri()
        def attempted():
            j = self.job(s.id)
            return j if j and "webhook" in (j.get("last_error") or "") \
                else None
        j = self.wait_until(attempted, 30, "a failed webhook attempt")
        self.assertIn("http://***@127.0.0.1:", j["last_error"])
        with open(os.path.join(self.state, "jobs", s.id + ".json")) as f:
            self.assertNotIn(password, f.read())
        for args in (("status",), ("status", "--json"), ("status", "--all")):
            p = self.cli(*args)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotIn(password, p.stdout + p.stderr, args)
        st = self.status()
        self.assertIn("***@127.0.0.1", st["jobs"][0]["last_error"])
        # (the start-up line is worker.c's: util_url_redact(webhook_url))
        self.assertNotIn(password, self.daemon_log(), "password in the log")
        self.assertIn("***@127.0.0.1", self.daemon_log())

    def test_config_messages_redacted(self):
        password = "pw-h9-config"
        p = self.cli("check",
                     WEBHOOK_URL="ftp://u:%s@example.com/x" % password,
                     S3_ENDPOINT="https://k:%s@s3.example.com" % password,
                     JITSI_WEBHOOK_SECRET=None)
        self.assertEqual(p.returncode, 1)
        self.assertNotIn(password, p.stdout + p.stderr)
        self.assertIn("error: WEBHOOK_URL: `ftp://***@example.com/x'",
                      p.stderr)
        self.assertIn("error: S3_ENDPOINT: `https://***@s3.example.com' "
                      "carries a user name or password", p.stderr)

    # ---- E: status escapes what it prints -------------------------------
    def test_status_escapes_room_name(self):
        self.start_daemon()
        s = self.jibri(room="evilroom",
                       meeting_url="https://meet.example.com/"
                       "evil%1b%5b31mred%0aX")
        j = self.wait_job(s.id)
        self.assertEqual(j["room_name"], "evil\x1b[31mred\nX")
        p = self.cli("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("\x1b", p.stdout)
        lines = p.stdout.split("\n")
        self.assertEqual(lines[-1], "")
        # the summary, a blank line, the column header, one job
        self.assertEqual(len(lines) - 1, 4, p.stdout)
        self.assertIn(r"evil\x1b[31mred\nX", lines[3])
        self.assertTrue(lines[3].startswith(s.id[:12]), lines[3])
        # JSON keeps the name as it is (escaped by JSON itself)
        self.assertEqual(self.status()["jobs"][0]["room_name"],
                         "evil\x1b[31mred\nX")

    # ---- G: durable directories of the file store -----------------------
    def test_file_store_fsyncs_new_dirs(self):
        if shutil.which("strace") is None:
            self.fail("strace is missing (scripts/deps test installs it)")
        src = os.path.join(self.tmp, "object.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(5000))
        out = os.path.join(self.tmp, "put.strace")
        env = self.environ(ASAN_OPTIONS="detect_leaks=0")
        p = subprocess.run(["strace", "-f", "-qq", "-o", out, "-e",
                            "trace=openat,open,fsync,mkdir,mkdirat,"
                            "rename,renameat,renameat2",
                            PIPELINE, "put", src, "a/b/c.mp4"],
                           capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.storage, "a", "b", "c.mp4"), "rb") as f:
            with open(src, "rb") as g:
                self.assertEqual(f.read(), g.read())
        with open(out) as f:
            trace = f.read().splitlines()
        fds = {}     # fd -> path, from openat
        events = []  # ("mkdir"|"fsync"|"rename", path)
        for line in trace:
            m = re.search(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]+)".*\)'
                          r'\s+= (\d+)', line)
            if m:
                fds[m.group(2)] = m.group(1)
            m = re.search(r'mkdir(?:at)?\((?:AT_FDCWD, )?"([^"]+)".*\)'
                          r'\s+= 0', line)
            if m:
                events.append(("mkdir", m.group(1)))
            m = re.search(r'fsync\((\d+)\)\s+= 0', line)
            if m:
                events.append(("fsync", fds.get(m.group(1))))
            m = re.search(r'rename(?:at2?)?\(.*"([^"]+)"[^"]*\)\s+= 0',
                          line)
            if m:
                events.append(("rename", m.group(1)))
        a = os.path.join(self.storage, "a")
        b = os.path.join(a, "b")
        self.assertIn(("mkdir", a), events, trace)
        self.assertIn(("mkdir", b), events, trace)
        # the parent of each new directory fsync'ed after it was made,
        # before the object was renamed into place
        rename = events.index(("rename", os.path.join(b, "c.mp4")))
        for new, parent in ((a, self.storage), (b, a)):
            made = events.index(("mkdir", new))
            synced = [i for i, e in enumerate(events)
                      if e == ("fsync", parent) and made < i < rename]
            self.assertTrue(synced, "no fsync of %s after mkdir %s: %s" %
                            (parent, new, events))
        # the object's own directory after the rename (atomic tmp+rename)
        self.assertTrue([i for i, e in enumerate(events)
                         if e == ("fsync", b) and i > rename], events)

    # ---- H: NAME_FILE secrets -------------------------------------------
    def test_secret_file_symlink_followed(self):
        real = os.path.join(self.tmp, "creds", "..data", "webhook-secret")
        os.makedirs(os.path.dirname(real))
        with open(real, "w") as f:
            f.write("symlinked-secret-value\n")
        link = os.path.join(self.tmp, "creds", "webhook-secret")
        os.symlink(os.path.join("..data", "webhook-secret"), link)
        env = self.environ(JITSI_WEBHOOK_SECRET=None,
                           JITSI_WEBHOOK_SECRET_FILE=link)
        p = self.cli("check", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "configuration OK")
        body = os.path.join(self.tmp, "body")
        with open(body, "wb") as f:
            f.write(b'{"room_name":"r"}')
        p = self.cli("sign", body, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), hmac.new(
            b"symlinked-secret-value", b'{"room_name":"r"}',
            hashlib.sha256).hexdigest())
        # AWS_SECRET_ACCESS_KEY_FILE the same way (config only: no S3 here)
        p = self.cli("sign", body, env=dict(
            env, AWS_SECRET_ACCESS_KEY_FILE=link, AWS_ACCESS_KEY_ID="AK"))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_secret_file_fifo_fails_at_once(self):
        fifo = os.path.join(self.tmp, "secret-fifo")
        os.mkfifo(fifo)
        t0 = time.monotonic()
        p = self.cli("check", JITSI_WEBHOOK_SECRET=None,
                     JITSI_WEBHOOK_SECRET_FILE=fifo, timeout=10)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("error: JITSI_WEBHOOK_SECRET_FILE: cannot read `%s': "
                      "not a regular file" % fifo, p.stderr)
        # a directory too
        p = self.cli("check", JITSI_WEBHOOK_SECRET=None,
                     JITSI_WEBHOOK_SECRET_FILE=self.tmp, timeout=10)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("error: JITSI_WEBHOOK_SECRET_FILE: cannot read `%s': "
                      "not a regular file" % self.tmp, p.stderr)


if __name__ == "__main__":
    unittest.main()
