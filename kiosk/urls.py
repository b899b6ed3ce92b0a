"""Routes of the visitor kiosk, mounted at /kiosk/ (names `kiosk:...`)."""

from django.urls import path

from kiosk import views

app_name = "kiosk"

urlpatterns = [
    path("", views.start, name="start"),
    path("worlds/", views.choose_world, name="worlds"),
    path("worlds/<slug:slug>/", views.paint, name="paint"),
    path("worlds/<slug:slug>/regions.png", views.world_regions, name="world-regions"),
    path("jobs/<uuid:job_id>/regions.png", views.job_regions, name="job-regions"),
    path("jobs/<uuid:job_id>/gallery/", views.submit_to_gallery, name="gallery"),
    path("reset/", views.reset, name="reset"),
]
