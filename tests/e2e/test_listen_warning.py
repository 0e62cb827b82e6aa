"""Listening beyond loopback without a token is allowed, and said at start:
the server's log warns that anyone who reaches it can scale and delete pods.
On loopback, or with a token, there is no such warning."""
from pgtest import Server, check, done

WARNING = "with no auth.token"

wide = Server(args=["--listen", "0.0.0.0:0"], copy_scripts=False)
st, body, _ = wide.get("/_engine/status")
check(st == 200, "a server on 0.0.0.0 answers on loopback")
check(WARNING in wide.logtext() and "0.0.0.0" in wide.logtext(),
      "on 0.0.0.0 without a token the log warns, naming the address")
wide.stop()

guarded = Server(args=["--listen", "0.0.0.0:0"], config="auth: {token: s3cret}\n", copy_scripts=False)
check(WARNING not in guarded.logtext(), "with a token there is no warning")
guarded.stop()

for host in ("127.0.0.1", "localhost", "127.0.0.2"):
    local = Server(args=["--listen", host + ":0"], copy_scripts=False)
    check(WARNING not in local.logtext(), "on %s there is no warning" % host)
    local.stop()
done()
