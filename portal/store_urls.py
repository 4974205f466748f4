"""The customer's pages behind a store's QR code: no login, phone-sized."""

from django.urls import path

from portal import store_order

app_name = "orders_public"

urlpatterns = [
    path("<str:code>/", store_order.store_order, name="store"),
    path("<str:code>/ordered/<str:number>/", store_order.store_ordered, name="ordered"),
]
