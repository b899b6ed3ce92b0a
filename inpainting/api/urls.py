"""Routes of the REST API, mounted at /api/v1/ (names: `inpainting:api:...`)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from inpainting.api import views

app_name = "api"

urlpatterns = [
    path("jobs/", views.JobListCreateView.as_view(), name="job-list"),
    path("jobs/<uuid:pk>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<uuid:pk>/result.png", views.JobResultView.as_view(), name="job-result"),
    path("jobs/<uuid:pk>/preview.jpg", views.JobPreviewView.as_view(), name="job-preview"),
    path("jobs/<uuid:pk>/before.png", views.JobBeforeView.as_view(), name="job-before"),
    path("engines/", views.EngineListView.as_view(), name="engine-list"),
    path("styles/", views.StyleListView.as_view(), name="style-list"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="inpainting:api:schema"), name="docs"),
]
