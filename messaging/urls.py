from __future__ import annotations

from django.urls import include, path

from messaging import chart_views, simulator_views, summary, views

app_name = "messaging"
urlpatterns = [
    path("", views.new_message, name="new"),
    path("new/preview/", views.template_preview, name="preview"),
    path("new/refresh/", views.refresh, name="refresh"),
    path("new/send/", views.send, name="send"),
    path("broadcasts/<int:pk>/progress/", views.broadcast_status, name="broadcast-progress"),
    path("broadcasts/<int:pk>/cancel/", views.broadcast_cancel_view, name="broadcast-cancel"),
    path("scheduled/", include("messaging.scheduled_views")),
    path("failures/", summary.summary, name="summary"),
    path("history/", views.history, name="history"),
    path("history/layout/", views.history_layout, name="history-layout"),
    path("history/export.csv", views.history_export, name="history-export"),
    path("history/<int:pk>/", views.delivery_detail, name="delivery-detail"),
    path("appointments/", views.appointments, name="appointments"),
    path("clients/<int:pk>/messages/", chart_views.client_messages, name="chart-messages"),
    path("simulators/", views.simulators, name="simulators"),
    path("simulators/outage/", simulator_views.simulator_outage, name="simulators-outage"),
    path("templates/", include("messaging.template_views")),  # Utilities > Templates (issue 14)
]
