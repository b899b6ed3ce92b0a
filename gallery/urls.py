"""Routes of the gallery: pages, pictures, the wall and the gallery API (names `gallery:...`)."""

from django.urls import include, path

from gallery import api, views

app_name = "gallery"

api_urlpatterns = [
    path("gallery/", api.CreationListView.as_view(), name="creation-list"),
    path("gallery/<slug:slug>/", api.CreationDetailView.as_view(), name="creation-detail"),
    path("worlds/", api.WorldListView.as_view(), name="world-list"),
    path("worlds/<slug:slug>/", api.WorldDetailView.as_view(), name="world-detail"),
]

urlpatterns = [
    path("gallery/", views.gallery_index, name="index"),
    path("c/<slug:slug>/", views.creation_detail, name="creation"),
    path("c/<slug:slug>/before.png", views.creation_picture, {"which": "before"}, name="before"),
    path("c/<slug:slug>/after.png", views.creation_picture, {"which": "after"}, name="after"),
    # Made from those, framed on the change (gallery/pictures.py).
    path("c/<slug:slug>/thumb.jpg", views.creation_thumbnail, name="thumb"),
    path("c/<slug:slug>/thumb-before.jpg", views.creation_thumbnail, {"kind": "thumb-before"},
         name="thumb-before"),
    path("c/<slug:slug>/frame-before.jpg", views.creation_thumbnail, {"kind": "frame-before"},
         name="frame-before"),
    path("c/<slug:slug>/frame-after.jpg", views.creation_thumbnail, {"kind": "frame-after"},
         name="frame-after"),
    path("c/<slug:slug>/detail.png", views.creation_thumbnail, {"kind": "detail"},
         name="detail"),
    path("c/<slug:slug>/map-before.jpg", views.creation_thumbnail, {"kind": "whole-before"},
         name="whole-before"),
    path("c/<slug:slug>/map-after.jpg", views.creation_thumbnail, {"kind": "whole-after"},
         name="whole-after"),
    path("c/<slug:slug>/postcard.jpg", views.creation_postcard, name="postcard"),
    path("c/<slug:slug>/qr.svg", views.creation_qr, name="qr"),
    path("worlds/<slug:slug>/image.png", views.world_image, name="world-image"),
    path("wall/", views.wall, name="wall"),
    path("api/v1/", include((api_urlpatterns, "api"))),
]
