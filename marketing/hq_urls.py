from django.urls import path

from marketing import hq_views

app_name = "marketing_hq"

urlpatterns = [
    path("", hq_views.promotion_list, name="promotions"),
    path("promotions/new/", hq_views.promotion_new, name="promotion_new"),
    path("coupons/", hq_views.coupon_list, name="coupons"),
    path("coupons/new/", hq_views.coupon_new, name="coupon_new"),
    path("campaigns/", hq_views.campaign_list, name="campaigns"),
    path("campaigns/new/", hq_views.campaign_new, name="campaign_new"),
    path("campaigns/<int:pk>/", hq_views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/send/", hq_views.campaign_send_view, name="campaign_send"),
    path("campaigns/<int:pk>/report/", hq_views.campaign_report_view, name="campaign_report"),
    path("campaigns/<int:pk>/report.csv", hq_views.campaign_report_csv, name="campaign_report_csv"),
]
