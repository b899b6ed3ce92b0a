"""Pages that cannot live under the site's Content-Security-Policy as it is.

The policy itself is `CONTENT_SECURITY_POLICY` in olpe_site/settings.py. A page
that needs more gets it here, with django-csp's decorators, for its own view
only, never for the whole site.

* The API's Swagger UI (`/api/v1/docs/`, drf-spectacular with its sidecar
  assets): drf-spectacular's page keeps a small <style> block in its template,
  so this page allows inline styles. Its script is served as a file of its own
  (`SpectacularSwaggerSplitView`, `?script`), so scripts stay as strict as on
  every other page.
"""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from drf_spectacular.views import SpectacularSwaggerSplitView

# Styles: inline ones too. Everything else: the site's policy. The list is replaced, not
# extended: browsers ignore 'unsafe-inline' beside a hash (the site's OpenSeadragon one).
API_DOCS_POLICY = {"style-src": [SELF, UNSAFE_INLINE]}

api_docs = csp_replace(API_DOCS_POLICY)(
    SpectacularSwaggerSplitView.as_view(url_name="inpainting:api:schema")
)
