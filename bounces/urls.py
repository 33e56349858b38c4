from __future__ import annotations

from django.urls import path

from bounces import views

app_name = "bounces"
urlpatterns = [
    path("do-not-send/", views.dns_list, name="dns-list"),
    path("summary/", views.summary, name="summary"),
]
