from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from olpe_site import csp_views, health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health.web_health, name="health"),
    path("health/workers/", health.workers_health, name="health-workers"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("kiosk/", include("kiosk.urls")),
    path("iiif/", include("iiif.urls")),
    # The API's Swagger UI with its own Content-Security-Policy allowance (olpe_site/csp_views.py);
    # it answers before the same address in inpainting/api/urls.py.
    path("api/v1/docs/", csp_views.api_docs, name="api-docs"),
    path("", include("gallery.urls")),
    path("", include("inpainting.urls")),
]
# MEDIA_URL is deliberately not served, not even with DEBUG: every picture goes
# through a view that checks who may see it (pending creations stay private).
