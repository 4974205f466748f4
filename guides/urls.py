from django.urls import path

import config.views  # noqa: F401  (registers the `text` path converter)
from guides import views

app_name = "guides"

urlpatterns = [
    path("", views.home, name="home"),
    path("fans/", views.fans, name="fans"),
    path("fans/<int:pk>/", views.fan_detail, name="fan"),
    path("fans/<int:pk>/coupon/", views.fan_coupon, name="fan_coupon"),
    path("orders/", views.orders, name="orders"),
    path("orders/<text:number>/", views.order_detail, name="order"),
    path("ledger/", views.ledger, name="ledger"),
    path("ledger/<int:pk>/", views.entry_detail, name="entry"),
    path("statements/", views.statements, name="statements"),
    path("statements/<int:pk>/", views.statement_detail, name="statement"),
    path("statements/<int:pk>/csv/", views.statement_csv, name="statement_csv"),
    path("partner/", views.partner, name="partner"),
    path("guide/<text:code>/", views.guide_detail, name="guide"),
]
