from __future__ import annotations

from django.urls import path

from bounces import views

app_name = "bounces"
urlpatterns = [
    path("do-not-send/", views.dns_list, name="dns-list"),
    path("do-not-send/add/", views.dns_add_view, name="dns-add"),
    path("do-not-send/<int:pk>/remove/", views.dns_remove_view, name="dns-remove"),
]
