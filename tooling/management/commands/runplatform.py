"""`manage.py runplatform`: daphne and the job cluster, together, until Ctrl-C.

The run scripts migrate first; this command only starts the processes, shows
their logs with a prefix and restarts one that dies, so a museum PC needs one
command (or one systemd unit) for the whole platform.
"""

import signal

from django.core.management.base import BaseCommand, CommandError

from tooling.launcher import Platform, PlatformError


class Command(BaseCommand):
    help = "Run the web server (daphne) and the job cluster (qcluster) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address daphne binds to.")
        parser.add_argument("--port", type=int, default=8000, help="Port of the first daphne.")
        parser.add_argument(
            "--web-processes", type=int, default=1,
            help="Number of daphne processes, on consecutive ports from --port.",
        )
        parser.add_argument(
            "--workers", type=int, default=None,
            help="Cluster worker processes (default: OLPE_WORKERS).",
        )
        parser.add_argument(
            "--grace", type=float, default=15.0,
            help="Seconds a process may take to stop before it is killed.",
        )

    def handle(self, *args, host, port, web_processes, workers, grace, **options):
        if web_processes < 1:
            raise CommandError("--web-processes must be at least 1.")
        platform = Platform(
            host=host,
            ports=range(port, port + web_processes),
            workers=workers,
            stream=self.stdout,
            grace_seconds=grace,
        )
        # systemd and docker stop with SIGTERM; a shell that started us in the
        # background ignores SIGINT. Both mean "stop", like Ctrl-C.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _raise_keyboard_interrupt)
        try:
            platform.start()
            addresses = ", ".join(platform.url(port=p) for p in platform.ports)
            self.stdout.write(self.style.SUCCESS(f"Platform running at {addresses} (Ctrl-C stops)"))
            platform.supervise()
        except PlatformError as error:
            raise CommandError(str(error)) from error
        except KeyboardInterrupt:
            self.stdout.write("Stopping …")
        finally:
            # A second Ctrl-C must not cut the shutdown short and orphan a worker.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
            platform.stop()


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt
