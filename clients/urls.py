from __future__ import annotations

from django.urls import path

from clients import views

app_name = "clients"
urlpatterns = [
    path("", views.client_management, name="list"),
    path("<int:pk>/", views.client_chart, name="chart"),
    path("<int:pk>/messaging-profile/", views.messaging_profile_edit, name="messaging-profile"),
    path("<int:pk>/contact-info/", views.contact_info_edit, name="contact-info"),
    path("<int:pk>/messaging-contact/", views.messaging_contact_edit, name="messaging-contact"),
]
