from __future__ import annotations

from django.urls import path

from messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.new_message, name="new"),
    path("history/", views.history, name="history"),
    path("appointments/", views.appointments, name="appointments"),
    path("simulators/", views.simulators, name="simulators"),
]
