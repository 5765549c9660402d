"""System tests: jibri-pipeline token -- room tokens read back and checked
in Python alone (base64url + hmac, no JWT library), and token --verify
judging tokens that are good, expired, early, re-signed or tampered with."""
import base64
import hashlib
import hmac
import json
import re
import time
import unittest

from harness import PipelineCase

JWT_SECRET = "jwt-secret-for-tests-5f1e0c9b7a3d4e2f8a6b"
OTHER_SECRET = "some-other-secret-0a9b8c7d6e5f4a3b2c1d"
DOMAIN = "meet.example.com"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                   r"-[0-9a-f]{12}$")


def b64url_decode(s):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", s):
        raise ValueError("not base64url: %r" % s)
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url_encode(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def parts(token):
    """(header, claims) of a token, read without checking it."""
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def sign(header, claims, secret):
    """A token made in Python: HS256 over the two JSON parts."""
    signing = "%s.%s" % (b64url_encode(json.dumps(header).encode()),
                         b64url_encode(json.dumps(claims).encode()))
    mac = hmac.new(secret.encode(), signing.encode(), hashlib.sha256)
    return signing + "." + b64url_encode(mac.digest())


def py_verify(token, secret, iss="reflector", aud="jitsi", sub=DOMAIN,
              room=None, now=None):
    """What Prosody's token check would object to, as a list of names
    (typ, alg, signature, iss, aud, sub, room, nbf, exp); [] = accepted."""
    now = int(time.time()) if now is None else now
    bad = []
    h64, p64, s64 = token.split(".")
    header, claims = parts(token)
    if header.get("typ") != "JWT":
        bad.append("typ")
    if header.get("alg") != "HS256":
        bad.append("alg")
    want = hmac.new(secret.encode(), ("%s.%s" % (h64, p64)).encode(),
                    hashlib.sha256).digest()
    if not hmac.compare_digest(want, b64url_decode(s64)):
        bad.append("signature")
    for name, value in (("iss", iss), ("aud", aud), ("sub", sub)):
        if claims.get(name) != value:
            bad.append(name)
    if not isinstance(claims.get("room"), str) or (
            room is not None and claims["room"] != "*" and
            claims["room"].lower() != room.lower()):
        bad.append("room")
    if "nbf" in claims and not claims["nbf"] <= now:
        bad.append("nbf")
    if "exp" in claims and not claims["exp"] > now:
        bad.append("exp")
    return bad


class Token(PipelineCase):

    WEBHOOK = False
    ENV = {"JITSI_JWT_SECRET": JWT_SECRET, "JITSI_DOMAIN": DOMAIN}

    def token(self, *args, **extra):
        before = int(time.time())
        p = self.cli("token", *args, **extra)
        after = int(time.time())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        out = p.stdout
        self.assertTrue(out.endswith("\n") and out.count("\n") == 1, out)
        self.assertNotIn(JWT_SECRET, out)
        return out.strip(), before, after

    def verify(self, token, *args, **extra):
        p = self.cli("token", "--verify", token, *args, **extra)
        self.assertNotIn(JWT_SECRET, p.stdout + p.stderr)
        return p

    def assert_claims(self, token, before, after, room, moderator, name,
                      ttl=8 * 3600):
        header, c = parts(token)
        self.assertEqual(header, {"alg": "HS256", "typ": "JWT"})
        self.assertEqual(set(c), {"iss", "aud", "sub", "room", "iat", "nbf",
                                  "exp", "context"})
        for k in ("iss", "aud", "sub", "room"):
            self.assertIsInstance(c[k], str, k)
        for k in ("iat", "nbf", "exp"):
            self.assertIs(type(c[k]), int, k)
        self.assertEqual(c["iss"], "reflector")
        self.assertEqual(c["aud"], "jitsi")
        self.assertEqual(c["sub"], DOMAIN)
        self.assertEqual(c["room"], room)
        self.assertTrue(before <= c["iat"] <= after, (before, c, after))
        self.assertEqual(c["nbf"], c["iat"] - 60)
        self.assertEqual(c["exp"] - c["iat"], ttl)
        self.assertEqual(set(c["context"]), {"user", "features"})
        user = c["context"]["user"]
        self.assertEqual(set(user), {"id", "name", "moderator", "affiliation"})
        self.assertIsInstance(user["id"], str)
        self.assertEqual(user["name"], name)
        self.assertIs(user["moderator"], moderator)
        self.assertEqual(user["affiliation"],
                         "owner" if moderator else "member")
        self.assertEqual(c["context"]["features"],
                         {"recording": True, "livestreaming": False})
        self.assertEqual(py_verify(token, JWT_SECRET, room=room), [])
        return c

    # ---- minting ------------------------------------------------------------
    def test_participant(self):
        tok, t0, t1 = self.token("--room", "Reflector-Weekly-Sync")
        c = self.assert_claims(tok, t0, t1, "reflector-weekly-sync", False,
                               "Participant")
        self.assertRegex(c["context"]["user"]["id"], UUID4)
        tok2, _, _ = self.token("--room", "reflector-weekly-sync")
        self.assertNotEqual(parts(tok2)[1]["context"]["user"]["id"],
                            c["context"]["user"]["id"])

    def test_moderator(self):
        tok, t0, t1 = self.token("--moderator", "--room", "r1")
        self.assert_claims(tok, t0, t1, "r1", True, "Moderator")
        # options in any order, each chosen value in its claim
        tok, t0, t1 = self.token("--ttl", "2h", "--name", "Ana Müller",
                                 "--id", "user-42", "--room", "R2",
                                 "--moderator")
        c = self.assert_claims(tok, t0, t1, "r2", True, "Ana Müller",
                               ttl=7200)
        self.assertEqual(c["context"]["user"]["id"], "user-42")
        tok, t0, t1 = self.token("--room", "r3", "--name", "Guest")
        self.assert_claims(tok, t0, t1, "r3", False, "Guest")

    def test_lifetime_and_names_from_config(self):
        tok, t0, t1 = self.token("--room", "r", JWT_TTL="1h",
                                 JITSI_JWT_ISSUER="my-app",
                                 JITSI_JWT_AUDIENCE="my-aud")
        _, c = parts(tok)
        self.assertEqual(c["exp"] - c["iat"], 3600)
        self.assertEqual((c["iss"], c["aud"]), ("my-app", "my-aud"))
        self.assertEqual(py_verify(tok, JWT_SECRET, iss="my-app",
                                   aud="my-aud"), [])
        # the env file works as well as the environment
        with open(self.config_file, "w") as f:
            f.write("JITSI_JWT_SECRET=%s\nJITSI_DOMAIN=other.example.org\n"
                    % OTHER_SECRET)
        tok, _, _ = self.token("--room", "r", JITSI_JWT_SECRET=None,
                               JITSI_DOMAIN=None)
        self.assertEqual(py_verify(tok, OTHER_SECRET,
                                   sub="other.example.org"), [])

    def test_url(self):
        url, _, _ = self.token("--room", "Reflector-Room-1", "--url")
        m = re.fullmatch(r"https://meet\.example\.com/reflector-room-1"
                         r"\?jwt=([A-Za-z0-9_.-]+)", url)
        self.assertTrue(m, url)
        self.assertEqual(py_verify(m.group(1), JWT_SECRET,
                                   room="reflector-room-1"), [])

    def test_missing_settings(self):
        for key in ("JITSI_JWT_SECRET", "JITSI_DOMAIN"):
            p = self.cli("token", "--room", "r", **{key: None})
            self.assertEqual(p.returncode, 1, (key, p.stderr))
            self.assertEqual(p.stdout, "")
            lines = p.stderr.splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertTrue(lines[0].startswith("error: %s:" % key), p.stderr)

    def test_usage(self):
        for args in ([], ["--moderator"], ["--room"], ["--room", "r", "x"],
                     ["--room", "r", "--frobnicate"],
                     ["--room", "a", "--room", "b"],
                     ["--verify", "x.y.z", "--moderator"],
                     ["--room", "r", "--ttl", "soon"],
                     ["--room", "r", "--ttl", "10s"],
                     ["--room", "a room"], ["--room", "a/b"],
                     ["--room", "*", "--url"]):
            p = self.cli("token", *args)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
            self.assertEqual(p.stdout, "")
            self.assertNotIn(JWT_SECRET, p.stderr)
        p = self.cli("token", "--room", "r", "--ttl", "soon")
        self.assertIn("`soon'", p.stderr)

    # ---- verifying ----------------------------------------------------------
    def test_fresh_token_accepted(self):
        """Minted and judged at once, also within the same second (nbf is
        a minute back, exp in the future): accepted."""
        for moderator in (False, True):
            for _ in range(5):
                args = ["--room", "Room-X"] + (["--moderator"] if moderator
                                               else [])
                tok, _, _ = self.token(*args)
                p = self.verify(tok, "--room", "room-x")
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertNotIn("BAD", p.stdout)
                self.assertIn("accepted: Prosody would let the holder in "
                              "as a %s" % ("moderator" if moderator else
                                           "participant"), p.stdout)
        for line in ("OK   typ: \"JWT\"", "OK   alg: \"HS256\"",
                     "OK   signature: ", "OK   iss: \"reflector\"",
                     "OK   aud: \"jitsi\"", "OK   sub: \"%s\"" % DOMAIN,
                     "OK   room: \"room-x\"", "OK   exp: ", "OK   nbf: "):
            self.assertIn("\n" + line, "\n" + p.stdout)
        # any room without --room; the room named case-insensitively
        self.assertEqual(self.verify(tok).returncode, 0)
        self.assertEqual(self.verify(tok, "--room", "ROOM-X").returncode, 0)
        # from stdin, with the newline a paste brings
        p = self.cli("token", "--verify", "-", input=tok + "\n")
        self.assertEqual(p.returncode, 0, p.stdout)

    def refused(self, tok, reasons, *args, **extra):
        """tok fails the Python check and --verify for exactly reasons."""
        room = args[1] if args[:1] == ("--room",) else None
        self.assertEqual(py_verify(tok, JWT_SECRET, room=room), reasons)
        p = self.verify(tok, *args, **extra)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        bad = re.findall(r"^BAD  ([\w.]+): ", p.stdout, re.M)
        self.assertEqual(bad, reasons, p.stdout)
        self.assertIn("refused: Prosody would not accept this token (%s)" %
                      ", ".join(reasons), p.stdout)
        return p

    def test_other_secret(self):
        tok, _, _ = self.token("--room", "r", JITSI_JWT_SECRET=OTHER_SECRET)
        self.assertEqual(py_verify(tok, OTHER_SECRET), [])
        p = self.refused(tok, ["signature"])
        self.assertIn("JITSI_JWT_SECRET", p.stdout)
        self.assertNotIn(OTHER_SECRET, p.stdout + p.stderr)

    def test_expired(self):
        tok, _, _ = self.token("--room", "r")
        header, c = parts(tok)
        now = int(time.time())
        c.update(iat=now - 7200, nbf=now - 7260, exp=now - 3600)
        p = self.refused(sign(header, c, JWT_SECRET), ["exp"])
        self.assertRegex(p.stdout, r"BAD  exp: \d+ \(.*\): expired 1h")

    def test_not_yet_valid(self):
        tok, _, _ = self.token("--room", "r")
        header, c = parts(tok)
        now = int(time.time())
        c.update(iat=now + 600, nbf=now + 540, exp=now + 3600)
        self.refused(sign(header, c, JWT_SECRET), ["nbf"])

    def test_tampered_payload(self):
        tok, _, _ = self.token("--room", "room-a")
        h64, _, s64 = tok.split(".")
        header, c = parts(tok)
        c["room"] = "room-b"
        c["context"]["user"]["moderator"] = True
        forged = "%s.%s.%s" % (h64, b64url_encode(json.dumps(c).encode()),
                               s64)
        p = self.refused(forged, ["signature"], "--room", "room-b")
        # the changed claims are shown all the same
        self.assertIn("OK   room: \"room-b\"", p.stdout)

    def test_wrong_claims(self):
        tok, _, _ = self.token("--room", "room-a")
        header, c = parts(tok)
        for key, value in (("iss", "someone-else"), ("aud", "not-jitsi"),
                           ("sub", "other.example.com")):
            forged = sign(header, dict(c, **{key: value}), JWT_SECRET)
            p = self.refused(forged, [key])
            self.assertIn(value, p.stdout)
        self.refused(tok, ["room"], "--room", "room-b")
        h = dict(header)
        del h["typ"]
        self.refused(sign(h, c, JWT_SECRET), ["typ"])

    def test_not_a_token(self):
        for junk in ("hello", "a.b", "!!.??.##"):
            p = self.verify(junk)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("BAD  format: ", p.stdout)

    # ---- check --------------------------------------------------------------
    def test_check_notes(self):
        p = self.cli("check", JITSI_JWT_SECRET=None, JITSI_DOMAIN=None)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)
        self.assertRegex(p.stderr, r"(?m)^warning: JITSI_JWT_SECRET: ")
        self.assertRegex(p.stderr, r"(?m)^warning: JITSI_DOMAIN: ")
        p = self.cli("check", JITSI_JWT_SECRET="short")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr, r"(?m)^warning: JITSI_JWT_SECRET: "
                         r"shorter than 32 bytes")
        self.assertNotIn("short\n", p.stdout)
        p = self.cli("check")
        self.assertNotIn("JITSI_", p.stderr)
        self.assertNotIn(JWT_SECRET, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
