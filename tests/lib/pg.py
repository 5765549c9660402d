"""pg.py -- a throwaway PostgreSQL cluster, for the database tests.

initdb into a temp dir, the server on 127.0.0.1 on a free port (its unix
socket in the temp dir too, nothing in /run), trust authentication for
127.0.0.1 except for one role that must give a password (PASSWORD_USER),
so that a test can get a login refused. As root, the cluster belongs to
the `postgres' OS user (the server refuses to run as root): the temp dir
is chowned to it and initdb/pg_ctl run through runuser. The server is a
child of pg_ctl, not of this process: stop() (and the test's cleanup)
stops it with pg_ctl stop -m immediate. Start-up takes about 1 s.

    import pg
    c = pg.Cluster().start()        # or in setUpClass, stop in tearDownClass
    c.url                           # postgresql://postgres@127.0.0.1:PORT/jp
    c.create_database("x") -> url   # a fresh database in the same cluster
    c.psql(sql, url=None) -> stdout (tab-separated, unaligned)
    c.rows(sql, url=None) -> [[str or None, ...], ...]
    c.stop(); c.start()             # same port, data kept (outage tests)
    c.destroy()                     # stop and remove the temp dir

JP_KEEP_PG=1 keeps the temp dir (data and server.log) for a look after.

    python3 tests/lib/pg.py         # a cluster by hand, until Ctrl-C
"""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from receiver import free_port  # noqa: F401 (pg.free_port for the tests)

PASSWORD_USER = "jp_password"
PASSWORD = "pg-Secret-9f3a-c0ffee"
DATABASE = "jp"


class PGError(Exception):
    pass


def bindir():
    """Where initdb and pg_ctl are (Debian keeps them out of PATH)."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if
                  d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    w = shutil.which("pg_ctl")
    if w:
        return os.path.dirname(w)
    return None


def available():
    """None when a cluster can be started here, else why not."""
    if bindir() is None:
        return "no PostgreSQL server (apt-get install postgresql)"
    if shutil.which("psql") is None:
        return "no psql (apt-get install postgresql-client)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres' user"
    return None


class Cluster:
    def __init__(self, keep=None):
        why = available()
        if why:
            raise PGError(why)
        self.bin = bindir()
        self.keep = bool(os.environ.get("JP_KEEP_PG")) if keep is None \
            else keep
        self.dir = tempfile.mkdtemp(prefix="jp-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.port = free_port()
        self.host = "127.0.0.1"
        self.user = "postgres"
        self.database = DATABASE
        self.url = "postgresql://%s@%s:%d/%s" % (self.user, self.host,
                                                 self.port, DATABASE)
        self.password_user = PASSWORD_USER
        self.password = PASSWORD
        self.running = False
        self.start_seconds = None
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._initialised = False

    # --- commands as the cluster's owner --------------------------------

    def _cmd(self, args):
        if self.as_root:
            return ["runuser", "-u", "postgres", "--"] + args
        return args

    def _run(self, args, timeout=60):
        p = subprocess.run(self._cmd(args), capture_output=True, text=True,
                           timeout=timeout, cwd=self.dir,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise PGError("%s failed (%d): %s\n%s" % (
                " ".join(args), p.returncode, (p.stderr or p.stdout)[-2000:],
                self.log_tail()))
        return p.stdout

    # --- start / stop ---------------------------------------------------

    def _initdb(self):
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data,
                   "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--locale=C", "--no-sync"])
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            # first match wins: the password role before the trust lines
            f.write("local all all trust\n"
                    "host all %s 127.0.0.1/32 scram-sha-256\n"
                    "host all all 127.0.0.1/32 trust\n" % PASSWORD_USER)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# jibri-pipeline tests\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "max_connections = 200\n" % (self.port, self.dir))
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            for name in ("pg_hba.conf", "postgresql.conf"):
                os.chown(os.path.join(self.data, name), pw.pw_uid, pw.pw_gid)
        self._initialised = True

    def start(self):
        """Start the server (initdb the first time) and wait until it
        accepts connections; the first start also creates the database
        and the password role."""
        t0 = time.monotonic()
        first = not self._initialised
        try:
            if first:
                self._initdb()
            self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                       "-l", self.log, "-w", "-t", "60", "start"],
                      timeout=90)
            self.running = True
            if first:
                self.psql("CREATE DATABASE %s" % DATABASE,
                          url=self.admin_url("postgres"))
                self.psql("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'" %
                          (PASSWORD_USER, PASSWORD))
        except BaseException:
            self.destroy()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self, mode="fast"):
        """Stop the server (data kept; start() again on the same port).
        mode "immediate" is a crash as far as clients can tell."""
        if not self.running:
            return
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                   "-m", mode, "-w", "-t", "60", "stop"], timeout=90)
        self.running = False

    def destroy(self):
        """Stop the server and remove the temp dir (unless kept)."""
        if self.running:
            try:
                self.stop("immediate")
            except (PGError, subprocess.TimeoutExpired):
                pid = self._postmaster_pid()
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self.running = False
        if self.keep:
            print("pg: kept", self.dir, file=sys.stderr)
            return
        if self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def log_tail(self, n=30):
        try:
            with open(self.log, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError as e:
            return "(no server log: %s)" % e

    # --- databases and SQL ----------------------------------------------

    def admin_url(self, database=DATABASE):
        return "postgresql://%s@%s:%d/%s" % (self.user, self.host,
                                             self.port, database)

    def password_url(self, password=None, database=DATABASE):
        """A URL for the role that must give its password (the right one
        unless password says otherwise)."""
        return "postgresql://%s:%s@%s:%d/%s" % (
            PASSWORD_USER, password or PASSWORD, self.host, self.port,
            database)

    def create_database(self, name):
        """A fresh empty database named name (dropped first if it exists);
        its URL."""
        admin = self.admin_url("postgres")
        self.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name,
                  url=admin)
        self.psql('CREATE DATABASE "%s"' % name, url=admin)
        return self.admin_url(name)

    def psql(self, sql, url=None, check=True):
        """Run sql (one or more statements, stopping at the first error)
        with psql; stdout, unaligned, tab-separated, no headers. NULL
        prints as the text given by NULL below."""
        p = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-P",
             "null=" + NULL, "-v", "ON_ERROR_STOP=1", "-d", url or self.url,
             "-f", "-"], input=sql, capture_output=True, text=True,
            timeout=60, env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
        if check and p.returncode != 0:
            raise PGError("psql failed (%d): %s\nSQL: %s" % (
                p.returncode, p.stderr.strip(), sql[:2000]))
        return p.stdout

    def rows(self, sql, url=None):
        """The rows of one query: lists of str, None for NULL."""
        out = self.psql(sql, url=url)
        return [[None if v == NULL else v for v in line.split("\t")]
                for line in out.splitlines()]


# What psql prints for NULL in psql()/rows(): no value looks like it.
NULL = "\x01NULL\x01"


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    c = Cluster().start()
    print("started in %.2fs: DATABASE_URL=%s dir %s" % (
        c.start_seconds, c.url, c.dir))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        c.destroy()
