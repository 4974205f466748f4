"""The customer's pages behind a store's QR code: no login, phone-sized."""

from django.urls import path

from orders import public_views

app_name = "orders_public"

urlpatterns = [
    path("<str:code>/", public_views.store_order, name="store"),
    path("<str:code>/ordered/<str:number>/", public_views.store_ordered, name="ordered"),
]
