"""The customer's ticket status page: no login, phone-sized."""

from django.urls import path

from aftersales import public_views

app_name = "aftersales_public"

urlpatterns = [
    path("", public_views.ticket_status, name="status"),
]
