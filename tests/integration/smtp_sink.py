"""A minimal receiving SMTP server for the Postfix end-to-end test: EHLO/HELO, STARTTLS (when
given a certificate), MAIL, RCPT, DATA, RSET, NOOP, QUIT; every accepted message is appended to
a JSON Lines file with whether it arrived over TLS. Standard library only; loopback only."""
import json
import socket
import socketserver
import ssl
import threading

MAX_LINE = 4096
MAX_MESSAGE = 1 << 20


class Sink:
    def __init__(self, addr, hostname, record_file, cert=None, key=None):
        self.hostname = hostname
        self.record_file = record_file
        self.lock = threading.Lock()
        self.ctx = None
        if cert:
            self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ctx.load_cert_chain(cert, key)
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def handle(self):
                try:
                    sink.session(self.connection)
                except (OSError, ssl.SSLError):
                    pass  # the client went away (Postfix may close right after QUIT)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(addr, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def session(self, conn):
        tls = False
        f = conn.makefile("rwb")

        def say(text):
            f.write(text.encode() + b"\r\n")
            f.flush()

        say(f"220 {self.hostname} ESMTP smtp_sink")
        mail_from, rcpts = None, []
        while True:
            line = f.readline(MAX_LINE)
            if not line:
                return
            cmd = line.decode("latin-1").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                if verb == "HELO":
                    say(f"250 {self.hostname}")
                    continue
                f.write(f"250-{self.hostname}\r\n".encode())
                if self.ctx and not tls:
                    f.write(b"250-STARTTLS\r\n")
                say("250 8BITMIME")
            elif verb == "STARTTLS" and self.ctx and not tls:
                say("220 2.0.0 Ready to start TLS")
                f.close()
                conn = self.ctx.wrap_socket(conn, server_side=True)
                f = conn.makefile("rwb")
                tls = True
                mail_from, rcpts = None, []
            elif verb == "MAIL":
                mail_from, rcpts = cmd[10:], []
                say("250 2.1.0 Ok")
            elif verb == "RCPT":
                rcpts.append(cmd[8:])
                say("250 2.1.5 Ok")
            elif verb == "DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                size = 0
                while True:
                    l = f.readline(MAX_LINE)
                    if not l:
                        return
                    size += len(l)
                    if l in (b".\r\n", b".\n") or size > MAX_MESSAGE:
                        break
                with self.lock, open(self.record_file, "a") as out:
                    out.write(json.dumps({"host": self.hostname, "from": mail_from, "to": rcpts,
                                          "tls": tls, "version": conn.version() if tls else None}) + "\n")
                say("250 2.0.0 Ok: queued")
            elif verb in ("RSET", "NOOP"):
                say("250 2.0.0 Ok")
            elif verb == "QUIT":
                say("221 2.0.0 Bye")
                return
            else:
                say("502 5.5.1 Error: command not implemented")
