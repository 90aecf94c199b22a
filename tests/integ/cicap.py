"""Start c-icap (Debian package c-icap) with its echo service, on loopback.

c-icap is the reference server the integration harness was first validated
against, and the one the benchmark compares icapd with. The configuration is
written into a directory of the caller's choosing (pid file, command socket,
logs and temp files all stay there), so it never touches a system c-icap.
The echo service also answers under the names /reqmod and /respmod, so that
the same Squid configuration works against both servers.

As a program:  python3 cicap.py DIR [PORT]   runs c-icap in the foreground
until interrupted and prints the port it listens on.
"""

import os
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procs import Proc, free_port  # noqa: E402

C_ICAP = "/usr/bin/c-icap"
C_ICAP_CLIENT = "/usr/bin/c-icap-client"
MODULES = "/usr/lib/x86_64-linux-gnu/c_icap"


def missing():
    """A message naming the Debian package to install, or None."""
    for path in (C_ICAP, C_ICAP_CLIENT, os.path.join(MODULES, "srv_echo.so")):
        if not os.path.exists(path):
            return "%s not found: install the Debian package c-icap (apt-get install c-icap)" % path
    return None


def write_config(workdir, port, threads=10, servers=1):
    workdir = os.path.abspath(str(workdir))
    os.makedirs(workdir, exist_ok=True)
    conf = os.path.join(workdir, "c-icap.conf")
    with open(conf, "w") as f:
        f.write("""\
PidFile {d}/c-icap.pid
CommandsSocket {d}/c-icap.ctl
Port 127.0.0.1:{port}
Timeout 30
KeepAliveTimeout 60
MaxKeepAliveRequests 0
StartServers {servers}
MaxServers {servers}
MinSpareThreads 1
MaxSpareThreads {threads}
ThreadsPerChild {threads}
MaxRequestsPerChild 0
TmpDir {d}
MaxMemObject 1048576
DebugLevel 1
Pipelining on
ServerLog {d}/c-icap-server.log
AccessLog {d}/c-icap-access.log
ModulesDir {m}
ServicesDir {m}
Service echo srv_echo.so
ServiceAlias reqmod echo
ServiceAlias respmod echo
""".format(d=workdir, port=port, m=MODULES, threads=threads, servers=servers))
    return conf


class CIcap:
    """A running c-icap on 127.0.0.1:port; stop() kills its process group."""

    def __init__(self, workdir, port=None, threads=10, servers=1, timeout=10.0):
        msg = missing()
        if msg:
            raise RuntimeError(msg)
        self.workdir = os.path.abspath(str(workdir))
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.conf = write_config(self.workdir, self.port, threads, servers)
        self.proc = Proc([C_ICAP, "-N", "-D", "-d", "1", "-f", self.conf],
                         os.path.join(self.workdir, "c-icap.out"), cwd=self.workdir,
                         name="c-icap")
        try:
            self.proc.wait_port(self.port, timeout)
        except BaseException:
            self.stop()
            raise

    def uri(self, service="echo"):
        return "icap://%s:%d/%s" % (self.host, self.port, service.lstrip("/"))

    def stop(self):
        return self.proc.stop()


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    port = int(argv[2]) if len(argv) > 2 else None

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)  # so that c-icap goes down with us
    srv = CIcap(argv[1], port)
    print("c-icap listening on 127.0.0.1:%d (config %s)" % (srv.port, srv.conf), flush=True)
    try:
        srv.proc.wait(None)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    if shutil.which(C_ICAP) is None:
        print(missing(), file=sys.stderr)
        sys.exit(1)
    sys.exit(main(sys.argv))
