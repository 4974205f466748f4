"""/portal/members/: the members app's pages and the member page, which reads later apps
(portal/member_page.py), under one namespace."""

from django.urls import path

from members import views
from portal import member_page

app_name = "members"

urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("new/", views.register, name="register"),
    path("<int:pk>/", member_page.member_detail, name="detail"),
    path("segments/", views.segment_list, name="segments"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("segments/<int:pk>/", views.segment_detail, name="segment_detail"),
    path("groups/", views.group_list, name="groups"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("groups/<int:pk>/add/", views.group_add, name="group_add"),
    path("groups/<int:pk>/remove/", views.group_remove, name="group_remove"),
]
