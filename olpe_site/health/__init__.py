"""Health endpoints for load balancers, container runtimes and monitoring.

`/health/` answers whether this web process can do its work: the database,
the channel layer, the job broker and the media storage must each answer
within a short timeout. A load balancer takes a web process out of rotation
on a 503 and the JSON names the part that failed.

`/health/workers/` tells what the workers are doing, from what they record in
places every process sees: django-q2's cluster statistics (in the broker or
the shared cache), the job table (running jobs and their heartbeats), and the
reports workers leave after each task (`inpainting.worker_reports`: loaded models,
GPU memory). It answers 503 when no cluster shows any sign of life.

Both are cheap and say nothing secret: failures name the exception class
only (the full error goes to the log), and neither imports torch; GPU figures
come from the workers, which have it loaded anyway.
"""

from inpainting.worker_reports import connect_worker_signals
from olpe_site.health.web import web_health
from olpe_site.health.workers import workers_health

__all__ = ["web_health", "workers_health", "connect_worker_signals"]
