"""WSGI entry point, for servers that need no websockets (admin, REST only)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")
application = get_wsgi_application()
