"""What the serve integration scripts ask of a running `mtasts serve`, as a sender and as Prometheus
do, and the setup the ACME scripts share (under with_pebble.py).

    policy_response(port, "a.test", ca_file)   # raw HTTP/1.1 response bytes (b"" when TLS/connect fails)
    metric(admin_port, "mtasts_acme_failures_total")   # sum over its labels; -1 when absent or unreachable
    pebble_root(tmp)                           # pebble's issuing root as a file, for verifying
    write_acme_config(path, db=..., https=..., ...)   # a serve TOML with ACME on
"""
import os
import socket
import ssl
import urllib.request


def policy_response(port, domain, ca_file, timeout=5):
    """GET /.well-known/mta-sts.txt from 127.0.0.1:PORT as a sender would: SNI mta-sts.DOMAIN,
    certificate verified against CA_FILE."""
    host = f"mta-sts.{domain}"
    ctx = ssl.create_default_context(cafile=ca_file)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            with ctx.wrap_socket(s, server_hostname=host) as t:
                t.sendall(f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\n"
                          "Connection: close\r\n\r\n".encode())
                data = b""
                while chunk := t.recv(4096):
                    data += chunk
                return data
    except (OSError, ssl.SSLError):
        return b""


def metric(port, name, timeout=5):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout).read().decode()
    except OSError:
        return -1
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.split()[-1])
            seen = True
    return total if seen else -1


def pebble_root(tmp):
    """with_pebble.py gives the root as PEM text or as a path; a file in TMP either way."""
    value = os.environ["MTASTS_TEST_PEBBLE_ROOT"]
    path = os.path.join(tmp, "pebble-root.pem")
    with open(path, "w") as f:
        f.write(value if value.startswith("-----") else open(value).read())
    return path


def write_acme_config(path, *, db, https, http, admin, directory, cert_dir, challenge, extra=""):
    """A serve config with ACME on, trusting with_pebble.py's CA file; EXTRA: more TOML lines."""
    with open(path, "w") as f:
        f.write(f'''[serve]
db = "{db}"
listen_https = "127.0.0.1:{https}"
listen_http = "127.0.0.1:{http}"
listen_admin = "127.0.0.1:{admin}"
acme_directory = "{directory}"
acme_ca_file = "{os.environ['MTASTS_TEST_ACME_CA_FILE']}"
acme_cert_dir = "{cert_dir}"
acme_challenge = "{challenge}"
{extra}''')
