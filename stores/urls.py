from django.urls import path

from stores import views

app_name = "stores"

urlpatterns = [
    path("", views.store_list, name="list"),
    # Before "<code>/": a store coded "lookup" would be shadowed, which the seed data never makes.
    path("lookup/", views.lookup_start, name="lookup_start"),
    path("<str:code>/", views.store_detail, name="detail"),
    path("<str:code>/lookup/", views.stock_lookup, name="lookup"),
    path("<str:code>/movements/new/", views.stock_change, name="stock_change"),
    path("<str:code>/stock/<str:sku_code>/", views.stock_ledger, name="ledger"),
]
