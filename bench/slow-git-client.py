#!/usr/bin/python3
"""A slow Git client for bench/git-slow.sh: POSTs a git-upload-pack request over TLS (the CA
pinned) with a small socket receive buffer, then reads the answer at RATE bytes/s, so the
server keeps streaming its pack instead of handing it all to the kernel. Prints
"<seconds> <bytes> <how it ended>".
Usage: slow-git-client.py URL CA_FILE AUTHZ_FILE BODY_FILE RATE"""
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit

url, ca, authz_file, body_file, rate = sys.argv[1:6]
rate = int(rate)
u = urlsplit(url)
body = open(body_file, "rb").read()
authz = open(authz_file).read().strip()
ctx = ssl.create_default_context(cafile=ca)
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect((u.hostname, u.port))
s = ctx.wrap_socket(raw, server_hostname=u.hostname)
s.sendall((f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: {authz}\r\n"
           "Git-Protocol: version=2\r\nContent-Type: application/x-git-upload-pack-request\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
start = time.monotonic()
got = 0
end = "eof"
try:
    while True:
        chunk = s.recv(min(1024, rate))
        if not chunk:
            break
        got += len(chunk)
        time.sleep(len(chunk) / rate)
except (ConnectionError, ssl.SSLError, OSError) as e:
    end = type(e).__name__
print(f"{time.monotonic() - start:.0f} {got} {end}")
