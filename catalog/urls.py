from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("prices/new/", views.price_new, name="price_new"),
    path("skus/", views.sku_list, name="sku_list"),
    path("skus/<str:code>/prices/", views.sku_prices, name="sku_prices"),
    path("consistency/", views.consistency, name="consistency"),
    path("categories/", views.categories, name="categories"),
    path("categories/<slug:code>/unified/", views.category_unified, name="category_unified"),
]
