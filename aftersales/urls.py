from django.urls import path

import config.views  # noqa: F401  (registers the `text` path converter)
from aftersales import views

app_name = "aftersales"

# The fixed prefixes come before "<number>/": a ticket number never reads "new" or "store".
urlpatterns = [
    path("", views.desk, name="desk"),
    path("new/<int:line_id>/", views.ticket_new, name="new"),
    path("store/<text:code>/", views.store_tickets, name="store"),
    path("<text:number>/", views.ticket_detail, name="detail"),
    path("<text:number>/take-in/", views.ticket_take_in, name="take_in"),
    path("<text:number>/photos/<int:pk>/", views.ticket_photo, name="photo"),
]
