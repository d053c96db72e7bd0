#!/usr/bin/env python3
"""Plays systemd's side of sd_notify(3) for the e2e tests (systemd is not PID 1 here).

usage: notify-listen.py SOCKET OUT [URL_FILE CA_FILE]

Binds a unix datagram socket at SOCKET ("/path", or "@name" for the abstract namespace) and
appends one line per notification to OUT: "<monotonic seconds> <assignment>" for each
newline-separated assignment of the datagram. When URL_FILE and CA_FILE are given, every
READY=1 is checked the moment it arrives: an HTTPS GET of <URL_FILE contents>/onboarding/
certificate, trusting CA_FILE only, is tried once and the result recorded as a line
"<t> CHECK ready-get=<status or error>". Runs until killed.
"""
import os
import socket
import ssl
import sys
import time
import urllib.request


def check(url_file, ca_file):
    try:
        with open(url_file) as f:
            url = f.read().strip() + "/onboarding/certificate"
        ctx = ssl.create_default_context(cafile=ca_file)
        handler = urllib.request.HTTPSHandler(context=ctx)
        opener = urllib.request.build_opener(handler, urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=5) as r:
            return str(r.status)
    except Exception as e:  # recorded for the test to assert on, not raised
        return "error:" + type(e).__name__


def main():
    sock_name, out = sys.argv[1], sys.argv[2]
    url_file = sys.argv[3] if len(sys.argv) > 4 else None
    ca_file = sys.argv[4] if len(sys.argv) > 4 else None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + sock_name[1:] if sock_name.startswith("@") else sock_name)
    with open(out, "a", buffering=1) as f:
        f.write("%.3f LISTENING\n" % time.monotonic())
        while True:
            data = s.recv(4096).decode("utf-8", "replace")
            now = time.monotonic()
            for a in data.split("\n"):
                if a:
                    f.write("%.3f %s\n" % (now, a))
            if "READY=1" in data.split("\n") and url_file:
                f.write("%.3f CHECK ready-get=%s\n" % (time.monotonic(), check(url_file, ca_file)))


if __name__ == "__main__":
    main()
