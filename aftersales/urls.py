from django.urls import path

from aftersales import views

app_name = "aftersales"

# The fixed prefixes come before "<number>/": a ticket number never reads "new" or "store".
urlpatterns = [
    path("", views.desk, name="desk"),
    path("new/<int:line_id>/", views.ticket_new, name="new"),
    path("store/<str:code>/", views.store_tickets, name="store"),
    path("<str:number>/", views.ticket_detail, name="detail"),
    path("<str:number>/take-in/", views.ticket_take_in, name="take_in"),
    path("<str:number>/photos/<int:pk>/", views.ticket_photo, name="photo"),
]
