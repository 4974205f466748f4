"""/portal/orders/: the orders app's pages and the order page, which reads later apps
(portal/order_page.py), under one namespace."""

from django.urls import path

from orders import views
from portal import order_page

app_name = "orders"

# The fixed prefixes come before "<number>/": an order number is digits and hex, never "new".
urlpatterns = [
    path("", views.order_list, name="list"),
    path("queue/", views.queue_start, name="queue_start"),
    path("queue/<str:code>/", views.queue, name="queue"),
    path("new/<str:code>/", views.order_new, name="new"),
    path("qr/<str:code>.png", views.qr_png_view, name="qr_png"),
    path("qr/<str:code>.svg", views.qr_svg_view, name="qr_svg"),
    path("qr/<str:code>/", views.qr_card, name="qr_card"),
    path("<str:number>/", order_page.order_detail, name="detail"),
    path("<str:number>/pay/", views.order_pay_view, name="pay"),
]
