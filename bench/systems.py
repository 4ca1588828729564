"""The supervisors under test, each started by hand on a scratch directory of N marker
services, as an operator would run it in a container (never as init), and stopped with its own
shutdown command. Each runs the markers directly, with no shell in between.

Settings: armd at its default (100 ms backoff) and at its fastest honest setting (backoff 0:
restart as soon as the death is seen). supervisord, s6 and runit have no setting that changes
how soon they restart a service that ran for more than a second, so their default is also their
fastest; supervisord's per-program log files are turned off (`stdout_logfile = NONE`), which only
spares it work. Likewise armd's services write to /dev/null (`stdout = stderr = "null"`) rather
than to armd's pipes, its default since issue 12: s6 and runit run no logger here either, so
no one in the comparison reads its services' output (capture=True measures it).
"""

import os
import shutil
import signal
import subprocess

from procfs import children, command_name


class Supervisor:
    label = ""
    program = ""  # what must be installed

    def __init__(self, build, workdir, n, log):
        self.build, self.workdir, self.n, self.log = build, workdir, n, log
        self.marker = os.path.join(build, "bench", "marker")
        self.process = None

    @classmethod
    def available(cls):
        return shutil.which(cls.program) is not None

    def command(self):
        raise NotImplementedError

    def environment(self):
        return dict(os.environ, MARKER_LOG=self.log)

    def launch(self):
        self.process = subprocess.Popen(
            self.command(), env=self.environment(), start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.workdir, f"{self.label}.stderr"), "a"))

    def supervisor_pids(self):
        """The supervisor's own processes (for CPU, wake-ups and memory)."""
        return [self.process.pid]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)

    def reap(self, timeout=120):
        try:
            self.process.wait(timeout)
        finally:
            self.kill()

    def kill(self):
        """Whatever is left of the run, gone (after a failure, or a supervisor that exits
        before its services)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def service_directories(self, name):
        """A scan directory for s6 and runit: one directory per service whose `run` is the
        marker itself (it takes its name from the directory)."""
        scan = os.path.join(self.workdir, f"{name}-{self.n}")
        shutil.rmtree(scan, ignore_errors=True)
        os.makedirs(scan)
        for i in range(self.n):
            service = os.path.join(scan, f"s{i}")
            os.mkdir(service)
            os.symlink(self.marker, os.path.join(service, "run"))
        return scan


class Floor(Supervisor):
    """bench/floor: the least a supervisor can do, measured exactly as the others are."""
    label = "floor"

    @classmethod
    def available(cls):
        return True

    def command(self):
        return [os.path.join(self.build, "bench", "floor"), self.marker, self.log, str(self.n)]


class Armd(Supervisor):
    program = "armd"

    def __init__(self, build, workdir, n, log, backoff="0ms", cgroup="auto", capture=False):
        super().__init__(build, workdir, n, log)
        self.backoff = backoff
        self.cgroup = cgroup  # "off": process groups, to measure what cgroups cost
        # True: armd's default, each service's stdout and stderr a pipe armd reads (two more
        # descriptors per service: 10,000 services no longer fit in a limit of 20,000).
        self.capture = capture
        self.label = "armd" if backoff == "0ms" else f"armd-backoff-{backoff}"
        if cgroup != "auto":
            self.label += f"-cgroup-{cgroup}"
        self.socket = os.path.join(workdir, f"{self.label}-{n}.sock")

    @classmethod
    def available(cls):
        return True

    def command(self):
        config = os.path.join(self.workdir, f"{self.label}-{self.n}.toml")
        with open(config, "w") as f:
            names = ", ".join(f'"s{i}"' for i in range(self.n))
            output = "" if self.capture else 'stdout = "null"\nstderr = "null"\n'
            f.write(f"[arm]\ndefault_services = [{names}]\ncgroup = \"{self.cgroup}\"\n")
            for i in range(self.n):
                f.write(f'[services.s{i}]\nbinary = "{self.marker}"\n'
                        f'options = ["s{i}", "{self.log}"]\nbackoff_initial = "{self.backoff}"\n'
                        f'{output}')
        return [os.path.join(self.build, "armd", "armd"), "--config", config, "--socket",
                self.socket]


class Supervisord(Supervisor):
    label = "supervisord"
    program = "supervisord"

    def command(self):
        config = os.path.join(self.workdir, f"supervisord-{self.n}.conf")
        with open(config, "w") as f:
            f.write(f"[supervisord]\nnodaemon = true\nlogfile = {self.workdir}/supervisord.log\n"
                    f"pidfile = {self.workdir}/supervisord.pid\nchildlogdir = {self.workdir}\n"
                    f"minfds = 1024\n")
            for i in range(self.n):
                f.write(f"[program:s{i}]\ncommand = {self.marker} s{i} {self.log}\n"
                        "autorestart = true\nstdout_logfile = NONE\nstderr_logfile = NONE\n")
        return ["supervisord", "-c", config]


class S6(Supervisor):
    label = "s6"
    program = "s6-svscan"

    def command(self):
        # s6-svscan supervises at most 500 services unless told otherwise.
        return ["s6-svscan", "-c", str(self.n + 10), self.service_directories("s6")]

    def supervisor_pids(self):
        root = self.process.pid
        return [root] + [p for p in children(root) if command_name(p) == "s6-supervise"]


class Runit(Supervisor):
    label = "runit"
    program = "runsvdir"

    def command(self):
        self.scan = self.service_directories("runit")
        return ["runsvdir", self.scan]

    def supervisor_pids(self):
        root = self.process.pid
        return [root] + [p for p in children(root) if command_name(p) == "runsv"]

    def stop(self):
        # runit's own shutdown, as its stage 3 does it: every service down (sv sends the
        # commands to all at once, then waits), then SIGHUP tells runsvdir to end every runsv.
        services = [os.path.join(self.scan, f"s{i}") for i in range(self.n)]
        subprocess.run(["sv", "-w", "60", "force-stop", *services], stdout=subprocess.DEVNULL,
                       check=False)
        self.process.send_signal(signal.SIGHUP)


PEERS = [Supervisord, S6, Runit]
