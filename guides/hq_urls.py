from django.urls import path

import config.views  # noqa: F401  (registers the `text` path converter)
from guides import hq_views

app_name = "guides_hq"

urlpatterns = [
    path("", hq_views.leaderboards, name="home"),
    path("leaderboard/<text:board>.csv", hq_views.board_csv, name="board_csv"),
    path("conversion/", hq_views.conversion_view, name="conversion"),
    path("list/", hq_views.guide_list, name="guides"),
    path("list/<text:code>/", hq_views.guide_detail, name="guide"),
    path("statements/", hq_views.statement_list, name="statements"),
    path("statements/<int:pk>/", hq_views.statement_detail, name="statement"),
    path("statements/<int:pk>/csv/", hq_views.statement_csv, name="statement_csv"),
]
