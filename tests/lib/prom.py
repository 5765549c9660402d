"""prom.py -- the daemon's /metrics in the system tests: the Prometheus text
format parsed (families, series, label values unescaped) and checked by
`promtool check metrics` (Debian's prometheus package).

    m = Scrape(text)
    m.get("recordings_finished_total", outcome="completed")   # or None
    m.total("events_total", result="stored")                  # a sum
    promtool_check(text)        # None when promtool is happy, else why
"""
import re
import shutil
import subprocess

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "jibri_pipeline_"

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n"
                  else m.group(1), v)


class Scrape:
    """One /metrics answer, parsed: types and helps (family name -> text)
    and series ((name, frozenset of (label, value)) -> value). A line
    that is not of the format raises AssertionError."""

    def __init__(self, text):
        self.text = text
        self.types, self.helps, self.series = {}, {}, {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, h = line[7:].partition(" ")
                self.helps[name] = h
            elif line.startswith("# TYPE "):
                name, _, t = line[7:].partition(" ")
                self.types[name] = t
            elif line and not line.startswith("#"):
                m = SERIES.match(line)
                assert m, "not a series line: %r" % line
                labels = {}
                if m.group(3):
                    pos = 0
                    for lm in LABEL.finditer(m.group(3)):
                        assert lm.start() == pos, line
                        labels[lm.group(1)] = unescape(lm.group(2))
                        pos = lm.end()
                    assert pos == len(m.group(3)), line
                self.series[(m.group(1), frozenset(labels.items()))] = \
                    float(m.group(4))

    def get(self, name, **labels):
        """The value of series PREFIX+name{labels}, None when absent."""
        return self.series.get((PREFIX + name, frozenset(labels.items())))

    def total(self, name, **labels):
        """The sum of every series of PREFIX+name whose labels include
        labels."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.series.items()
                   if n == PREFIX + name and want <= set(ls))


def promtool_check(text):
    """None when `promtool check metrics` accepts text without a remark;
    else what it said (or that it is missing)."""
    exe = shutil.which("promtool")
    if exe is None:
        return "promtool is missing: apt-get install prometheus " \
            "(scripts/deps test)"
    p = subprocess.run([exe, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    said = (p.stdout + p.stderr).strip()
    if p.returncode != 0 or said:
        return "promtool check metrics (exit %d): %s" % (p.returncode,
                                                          said or "-")
    return None
