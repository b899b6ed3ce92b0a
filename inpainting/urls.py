from django.urls import include, path

from inpainting import legacy, views

app_name = "inpainting"

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v1/", include("inpainting.api.urls")),
    # The prototype's contract, kept so its clients keep working.
    path("inpainting/", legacy.inpainting, name="legacy-inpainting"),
]
