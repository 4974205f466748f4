from django.urls import path

from aftersales import hq_views

app_name = "aftersales_hq"

urlpatterns = [
    path("", hq_views.queue, name="queue"),
    path("tickets.csv", hq_views.queue_csv, name="queue_csv"),
    path("returns/", hq_views.returns, name="returns"),
    path("returns/<str:by>.csv", hq_views.returns_csv, name="returns_csv"),
]
