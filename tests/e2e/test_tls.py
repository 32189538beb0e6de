"""TLS on the wire protocol (issue 6): the tls group's listeners beside the
plain one, the version floor, client certificates, the limits over TLS,
reload of the certificate, and config errors in crisisd -t.

Each daemon gets a throwaway CA, a server certificate for 127.0.0.1 and a
client certificate signed by the CA, plus a self-signed "rogue" one
(harness.make_tls_files, with the openssl command).
"""

import os
import signal
import socket
import ssl
import time

from harness import (Daemon, accept, crisisd_bare, make_tls_files, note,
                     secs, submit)


def wait_log(d, text, timeout=None):
    """Wait until the daemon's log holds text; return the log."""
    deadline = time.monotonic() + (secs(2000) if timeout is None
                                   else timeout)
    while True:
        with open(d.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        if text in log:
            return log
        assert time.monotonic() < deadline, (
            "the daemon never logged %r; log tail:\n%s" % (text,
                                                           d.log_tail(15)))
        time.sleep(0.02)


def refused(d, cert="client", context=None):
    """Assert a TLS client gets no welcome: the handshake fails, or (TLS
    1.3, where a client certificate is checked after the client's side is
    done) the first read does.  Returns what the client saw.
    """
    try:
        c = d.tls_client(cert=cert, context=context)
    except (ssl.SSLError, OSError) as e:
        return "handshake: %s" % e
    try:
        c.send({"type": "hello", "role": "intake", "principal": "gw",
                "token": d.tokens["gw"]})
    except (ssl.SSLError, OSError) as e:
        return "send: %s" % e
    c.expect_eof()
    assert c.tls_error is not None or c.reset or c.eof, c.name
    return "read: %s" % (c.tls_error or "closed")


def test_tls_hello_ping():
    with Daemon(tls=True) as d:
        d.add_intake("gw")
        d.start()
        c = d.tls_login("gw")
        c.ping()
        # The client checked the server certificate against the CA and the
        # address 127.0.0.1 (check_hostname is on); TLS 1.3 by default.
        assert c.sock.version() == "TLSv1.3", c.sock.version()
        assert c.sock.getpeercert()["subject"] == ((("commonName",
                                                     "localhost"),),)
        wait_log(d, "listening on 127.0.0.1:%d (TLS)" % d.tls_port)
        wait_log(d, "TLSv1.3, client certificate CN gateway-1")


def test_tls_plain_listener_beside():
    """A clinician on the plain port, a gateway over TLS: a whole contact."""
    with Daemon(tls=True) as d:
        d.add_intake("gw")
        d.add_clinician("c1", tiers=(1,))
        d.start()
        gw = d.tls_login("gw", cert=None)
        clin = d.clinician("c1")
        cid, _ = submit(gw, "tls-1")
        clin.expect("offer", contact=cid)
        accept(clin, cid)
        routed = gw.expect("routed", contact=cid)
        assert routed["clinician"] == "c1", routed["_raw"]
        # The plain port does not speak TLS, nor the TLS port plain text.
        try:
            ctx = d.tls_context()
            s = ctx.wrap_socket(socket.create_connection(
                ("127.0.0.1", d.port), 5), server_hostname="127.0.0.1")
            s.close()
            raise AssertionError("a TLS handshake worked on the plain port")
        except (ssl.SSLError, OSError):
            pass
        gw.ping()
        clin.ping()


def test_tls_port_refuses_plain_tcp():
    with Daemon(tls=True) as d:
        d.add_intake("gw")
        d.start()
        s = socket.create_connection(("127.0.0.1", d.tls_port), 5)
        s.sendall(b'{"type":"hello","role":"intake","principal":"gw",'
                  b'"token":"%s"}\n' % d.tokens["gw"].encode())
        got = b""
        deadline = time.monotonic() + secs(2000)
        s.settimeout(secs(2000))
        try:
            while time.monotonic() < deadline:
                data = s.recv(4096)
                if not data:
                    break
                got += data
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        assert b"welcome" not in got and b"{" not in got, got
        log = wait_log(d, "TLS handshake failed")
        note("logged: %s" % [l for l in log.splitlines()
                             if "handshake failed" in l][0])


def test_tls_hello_deadline_covers_handshake():
    with Daemon(tls=True) as d:
        d.start()
        s = socket.create_connection(("127.0.0.1", d.tls_port), 5)
        t0 = time.monotonic()
        s.settimeout(secs(3000))
        data = s.recv(4096)  # nothing sent: the daemon must give up
        waited = time.monotonic() - t0
        s.close()
        assert data == b"", data
        assert secs(400) <= waited <= secs(1500), waited
        note("closed after %.0f ms (hello_timeout_ms %d)" % (
            waited * 1000, d.conf["hello_timeout_ms"]))
        wait_log(d, "no TLS handshake within %d ms" %
                 d.conf["hello_timeout_ms"])


def can_offer_tls11():
    """Can this machine's OpenSSL still send a TLS 1.1 ClientHello?"""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return ctx  # the ClientHello is out, waiting for the server
    except (ssl.SSLError, ValueError):
        return None
    return None


def test_tls_old_versions_refused():
    with Daemon(tls=True) as d:
        d.add_intake("gw")
        d.start()
        ctx11 = can_offer_tls11()
        if ctx11 is None:
            note("skipped the TLS 1.1 client: this OpenSSL cannot offer "
                 "TLS 1.1 at all")
        else:
            ctx = d.tls_context(version=ssl.TLSVersion.TLSv1_1,
                                ciphers="DEFAULT:@SECLEVEL=0")
            how = refused(d, context=ctx)
            assert how.startswith("handshake"), how
            wait_log(d, "TLS handshake failed: unsupported protocol")
        # TLS 1.2 is the floor by default: it works.
        c = d.tls_client(context=d.tls_context(
            version=ssl.TLSVersion.TLSv1_2))
        assert c.sock.version() == "TLSv1.2", c.sock.version()
        c.hello("intake", "gw", d.tokens["gw"])
        # Forward secrecy only: the TLS 1.2 suite is ECDHE.
        assert c.sock.cipher()[0].startswith("ECDHE"), c.sock.cipher()


def test_tls_min_version_13():
    with Daemon(tls={"min_version": "1.3"}) as d:
        d.add_intake("gw")
        d.start()
        how = refused(d, context=d.tls_context(
            version=ssl.TLSVersion.TLSv1_2))
        assert how.startswith("handshake"), how
        c = d.tls_login("gw")
        assert c.sock.version() == "TLSv1.3"


def test_tls_client_certificate_required():
    with Daemon(tls={"require_client_cert": True}) as d:
        d.add_intake("gw")
        d.start()
        how = refused(d, cert=None)
        note("without a certificate: %s" % how)
        wait_log(d, "TLS handshake failed: peer did not return a "
                 "certificate")
        how = refused(d, cert="rogue")
        note("self-signed certificate: %s" % how)
        wait_log(d, "certificate verify failed: self-signed certificate")
        # Over TLS 1.2 the failure shows in the client's handshake.
        how = refused(d, cert=None, context=d.tls_context(
            cert=None, version=ssl.TLSVersion.TLSv1_2))
        assert how.startswith("handshake"), how
        c = d.tls_login("gw")
        c.ping()
        wait_log(d, "client certificate CN gateway-1")


def test_tls_line_too_large():
    with Daemon(tls=True, max_line_bytes=1024) as d:
        d.add_intake("gw")
        d.start()
        c = d.tls_login("gw")
        # A burst of pings beyond the line cap in one write: all answered
        # (nothing stalls inside OpenSSL's buffers).
        n = 400
        c.send_raw("".join('{"type":"ping","id":%d}\n' % i
                           for i in range(n)))
        for i in range(n):
            c.expect("pong", id=i)
        c.send_raw('{"type":"ping","pad":"%s"}\n' % ("x" * 2000))
        err = c.expect("error")
        assert err["code"] == "too_large", err["_raw"]
        c.expect_eof()
        assert c.tls_error is None, "no close_notify: %s" % c.tls_error
        # A line that never ends is cut off too.
        c2 = d.tls_login("gw")
        c2.send_raw("y" * 50000)
        assert c2.expect("error")["code"] == "too_large"
        c2.expect_eof()


def test_tls_reload_certificate():
    with Daemon(tls=True) as d:
        d.add_intake("gw")
        d.start()
        first = d.tls_login("gw")
        assert first.sock.getpeercert()["serialNumber"] == "02"
        # A key that is not PEM: the reload keeps the running context.
        key = os.path.join(d.tls_dir, "server.key")
        with open(key, "rb") as f:
            good_key = f.read()
        with open(key, "w") as f:
            f.write("not a key\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_log(d, "TLS keeps the running certificate")
        d.tls_login("gw").ping()
        # A new certificate (same CA, serial 3) reaches new connections.
        with open(key, "wb") as f:
            f.write(good_key)
        make_tls_files(d.tls_dir, serial=3)
        d.proc.send_signal(signal.SIGHUP)
        wait_log(d, "TLS certificate and CA reloaded")
        c = d.tls_login("gw")
        assert c.sock.getpeercert()["serialNumber"] == "03"
        first.ping()  # connections made before the reload go on


def test_tls_config_errors():
    with Daemon(tls=True) as d:
        good = open(d.conf_path).read()
        lines = good.splitlines()
        key_line = 1 + next(i for i, l in enumerate(lines)
                            if l.strip().startswith("key ="))
        cases = [
            (good.replace('"tls/server.key"', '"tls/missing.key"'),
             "%s:%d: tls.key: %s: No such file or directory" % (
                 d.conf_path, key_line,
                 os.path.join(d.dir, "tls", "missing.key"))),
            (good.replace('min_version = "1.2"', 'min_version = "1.1"'),
             'tls.min_version: "1.1": must be "1.2" or "1.3"'),
            (good.replace("require_client_cert = false",
                          "require_client_cert = true").replace(
                              '  ca = "tls/ca.crt";\n', ""),
             "tls.require_client_cert: true needs ca"),
            (good.replace('  certificate = "tls/server.crt";\n', ""),
             "tls: missing required key certificate"),
        ]
        for text, expected in cases:
            with open(d.conf_path, "w") as f:
                f.write(text)
            p = crisisd_bare("-t", "-c", d.conf_path)
            assert p.returncode == 2, (p.returncode, p.stderr)
            assert expected in p.stderr, (expected, p.stderr)
            assert "%s:" % d.conf_path in p.stderr, p.stderr
        with open(d.conf_path, "w") as f:
            f.write(good)
        p = crisisd_bare("-t", "-c", d.conf_path)
        assert p.returncode == 0, p.stderr


def test_tls_sigterm_ends_cleanly():
    """SIGTERM: a TLS peer's connection ends with close_notify."""
    with Daemon(tls=True) as d:
        d.add_intake("gw")
        d.start()
        c = d.tls_login("gw")
        c.ping()
        d.stop()
        c.expect_eof(timeout=secs(500))
        assert c.tls_error is None, "no close_notify: %s" % c.tls_error


def login_with_room(d, login):
    """login(), retried while the daemon has not yet noticed a close that
    makes room under max_connections."""
    deadline = time.monotonic() + secs(2000)
    while True:
        try:
            return login()
        except (ssl.SSLError, OSError, AssertionError):
            assert time.monotonic() < deadline, "no room after a close"
            time.sleep(0.05)


def test_tls_max_connections():
    """Over max_connections a TLS socket is closed before its handshake."""
    with Daemon(tls=True, max_connections=2) as d:
        d.add_intake("gw")
        d.start()
        # start() probes the port; the daemon counts that connection until
        # it notices the probe's close on its next turn.
        first = login_with_room(d, lambda: d.tls_login("gw"))
        d.login("gw")
        how = refused(d)
        assert how.startswith("handshake"), how
        # The plain port still says why.
        over = d.client()
        assert over.expect("error")["code"] == "overloaded"
        over.expect_eof()
        first.ping()
        first.close()
        login_with_room(d, lambda: d.tls_login("gw")).ping()
